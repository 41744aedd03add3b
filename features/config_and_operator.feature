@operator
Feature: Config rollouts and operator crashes
  A zoo.cfg change rolls through every member, leader last; an operator
  killed in the middle of a change resumes from what it persisted and
  finishes the job.

  @guards-config
  Scenario: A config change rolls out to every member
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And 200 znodes under "/integrity"
    And a workload of 4 clients at 300 ops/s on 20 keys
    When I set "maxClientCnxns" to "100" in the config
    Then within 90s the rollout is complete
    And within 30s every member serves in quorum
    And every member runs with "maxClientCnxns" = "100", restarted once, the leader last
    And the status told the truth throughout
    And the leader changed at most 1 time
    And the history is linearizable
    And no acknowledged write was lost
    And all 200 znodes under "/integrity" read back intact

  Scenario: The operator is killed in the middle of an upgrade
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.3
    And 200 znodes under "/integrity"
    And a workload of 4 clients at 300 ops/s on 20 keys
    When I upgrade to 3.9.6
    And I wait up to 60s until 1 pod runs 3.9.6
    And I kill the operator for 5s
    Then within 120s the rollout is complete
    And within 30s all members run 3.9.6
    And the history is linearizable
    And no acknowledged write was lost
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout

  Scenario: The operator is killed in the middle of a scale-down
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And 200 znodes under "/integrity"
    And a workload of 4 clients at 300 ops/s on 20 keys
    When I scale to 5 members
    Then within 90s the rollout is complete
    When I scale to 3 members
    And I kill the operator
    Then within 120s the ensemble has 3 voting members
    And within 90s the rollout is complete
    And the history is linearizable
    And no acknowledged write was lost
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout
