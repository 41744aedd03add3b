@leader
Feature: Leader loss
  The leader dies or is cut off; the followers elect a new one quickly,
  no acknowledged write is lost and the history stays linearizable.

  Background:
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And 200 znodes under "/integrity"
    And a workload of 4 clients at 300 ops/s on 20 keys

  Scenario: The leader is killed
    When I wait 2s
    And I kill the leader
    Then within 30s a new leader is elected
    And within 60s every member serves in quorum
    And the history is linearizable
    And the session guarantees held
    And no acknowledged write was lost
    And the ensemble converged after the faults
    And writes were unavailable for at most 10s
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout

  Scenario: The leader ends up alone in the minority
    When I wait 2s
    And I split the ensemble so that the leader is in the minority for 8s
    Then within 30s every member serves in quorum
    And the leader changed at most 2 times
    And the history is linearizable
    And no acknowledged write was lost
    And the ensemble converged after the faults
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout
