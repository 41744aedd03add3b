@disk @no-kube
Feature: A full data disk
  A member's data disk fills up (its own size-limited tmpfs, never the
  host's disk: a tmpfs mount on the local backend, a tmpfs volume on
  docker). ZooKeeper cannot write its transaction log there; the
  others keep serving, and once space is back the member catches up.

  Scenario: A follower's data disk fills up and is freed
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6 with 64 MiB data disks
    And 200 znodes under "/integrity"
    And a workload of 4 clients at 300 ops/s on 20 keys
    When I fill the data disk of a random follower for 6s
    Then within 60s every member serves in quorum
    And the history is linearizable
    And no acknowledged write was lost
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout

  Scenario: Size-limited data disks keep their data when every member is killed at once
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6 with 64 MiB data disks
    And 200 znodes under "/integrity"
    And a workload of 4 clients at 300 ops/s on 20 keys
    When I kill every member
    Then within 60s every member serves in quorum
    And every restarted member came back with its own data
    And no acknowledged write was lost
    And all 200 znodes under "/integrity" read back intact
    And the status told the truth throughout
