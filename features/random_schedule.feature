@random
Feature: A short seeded random schedule
  The quick version of the soak: three random faults, reproducible with
  the seed printed by the run.

  Scenario: Three random faults under load
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And 200 znodes under "/integrity"
    And a workload of 4 clients at 300 ops/s on 20 keys
    When I run a random schedule of 3 faults, one every 6s, each for 3s
    Then within 60s every member serves in quorum
    And the history is linearizable
    And no acknowledged write was lost
    And the ensemble converged after the faults
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout
