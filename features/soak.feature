@slow @soak
Feature: Seeded randomized soak
  A random schedule of faults under load, reproducible with the run's
  seed (printed). Excluded by default; run with `--tags @soak`.

  Scenario: Ten random faults under load
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And 500 znodes under "/integrity"
    And a workload of 8 clients at 500 ops/s on 100 keys
    When I run a random schedule of 10 faults, one every 12s, each for 5s
    Then within 60s every member serves in quorum
    And the history is linearizable
    And the session guarantees held
    And no acknowledged write was lost
    And the ensemble converged after the faults
    And all 500 znodes under "/integrity" read back intact

  # netem needs tc in the pod's network namespace: not on kind/kube.
  @netem @local-only
  Scenario: A slow follower
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And a workload of 4 clients at 200 ops/s on 20 keys
    When I delay the network of a random follower by 200ms for 10s
    Then within 30s every member serves in quorum
    And the history is linearizable
