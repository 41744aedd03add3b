@scale
Feature: Scaling through dynamic reconfig
  The operator adds and removes members one at a time with `reconfig`,
  the committed config's voters follow the spec, and clients keep writing.

  Background:
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And 200 znodes under "/integrity"
    And a workload of 4 clients at 300 ops/s on 20 keys

  @guards-reconfig
  Scenario: Scale up 3 to 5, then down 5 to 3
    When I scale to 5 members
    Then within 90s the ensemble has 5 voting members
    And within 60s the rollout is complete
    And within 30s all members agree on the config version
    When I scale to 3 members
    Then within 90s the ensemble has 3 voting members
    And within 60s the rollout is complete
    And the history is linearizable
    And no acknowledged write was lost
    And writes were unavailable for at most 5s
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout

  @guards-status-scaling
  Scenario: Scale up while a follower is partitioned
    When I partition a random follower from the rest
    And I scale to 5 members
    And I wait 5s
    And I heal all faults
    Then within 120s the ensemble has 5 voting members
    And within 90s the rollout is complete
    And within 60s every member serves in quorum
    And the history is linearizable
    And no acknowledged write was lost
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout
