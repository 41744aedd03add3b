@smoke
Feature: Accept a new ensemble
  What an administrator does by hand before handing a new ZooKeeper
  ensemble over: every member is alive, a write through one member is
  readable through every other, and the operator reports the cluster Ready.

  Scenario: A new 3-member ensemble serves through every member
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And the operator manages it with update strategy OnDelete
    Then every member answers ruok with imok
    And I can create "/product" with "kubedb" through pod 0 and read it back through every other member
    And within 30s the cluster reports Ready
    And within 10s all members agree on the config version
    And within 10s the ensemble has 3 voting members
