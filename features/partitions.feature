@partitions
Feature: Network partitions
  Partitions inside the ensemble's own namespaces: an isolated leader, a
  minority cut off, a bridge, an asymmetric cut, a flapping link. The
  majority keeps serving; after the heal everyone converges.

  Background:
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And 200 znodes under "/integrity"
    And a workload of 4 clients at 300 ops/s on 20 keys

  Scenario: The leader is isolated
    When I wait 1s
    And I partition the leader from the rest for 8s
    Then within 30s every member serves in quorum
    And the history is linearizable
    And no acknowledged write was lost
    And the ensemble converged after the faults
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout

  Scenario: A minority is cut off from the majority
    When I split the ensemble into a majority and a minority for 8s
    Then within 30s every member serves in quorum
    And the leader changed at most 0 times
    And writes were unavailable for at most 3s
    And the history is linearizable
    And no acknowledged write was lost
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout

  # NetworkPolicy cannot cut one direction only: not on kind/kube.
  @local-only
  Scenario: A one-way cut from a follower keeps quorum
    When I cut the traffic from a random follower to the others for 6s
    Then within 30s every member serves in quorum
    And the history is linearizable
    And no acknowledged write was lost
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout

  Scenario: The leader's link flaps
    When I partition the leader from the rest for 3s
    And I wait 2s
    And I partition the leader from the rest for 3s
    And I wait 2s
    And I bridge the ensemble for 4s
    Then within 45s every member serves in quorum
    And the history is linearizable
    And the session guarantees held
    And no acknowledged write was lost
    And the ensemble converged after the faults
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout

  Scenario: Random halves
    When I split the ensemble into random halves for 6s
    Then within 30s every member serves in quorum
    And the history is linearizable
    And no acknowledged write was lost
    And the ensemble converged after the faults
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout

  @local-only
  Scenario: The clients are cut off from the leader
    When I cut the clients off from the leader
    Then within 10s the clients get no answer from the members the last fault hit
    When I wait 4s
    And I heal all faults
    Then within 30s every member serves in quorum
    And the leader changed at most 0 times
    And the history is linearizable
    And the session guarantees held
    And no acknowledged write was lost
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout
