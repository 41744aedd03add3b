@plans
Feature: Plans run inside a scenario
  A YAML plan's timeline and checks run against this scenario's ensemble.

  Scenario: The leader-flapping plan
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    When I run the plan "scenarios/leader-flapping.yaml"
    Then within 10s the ensemble has quorum
