@known-bug @no-kube
Feature: Known upstream data-loss bugs, reproduced on purpose
  A finding must replay. These scenarios drive a real ensemble through the
  choreography of a catalogued upstream bug, with faults triggered by what
  the servers log, and check both sides: on an affected version the
  history checkers find the loss and the server-log diagnosis names the
  bug; on a fixed version the same choreography loses nothing.

  Not on Kubernetes (@no-kube): the triggers read each server's log file,
  which the kube backend does not have yet.

  # ZOOKEEPER-4643 / 4646 / 4785 (fixed in 3.8.4 and 3.9.2): a follower
  # syncing by DIFF writes the new epoch to disk when NEWLEADER arrives,
  # before the synced transactions are applied (3.8: they are only queued
  # for the log, and applied after UPTODATE). If the sync stops between
  # NEWLEADER and UPTODATE, it stands for election with the new epoch and
  # its old data, wins over members with more data, and they truncate
  # committed transactions to match it.
  #
  # ZOOKEEPER-4925 (3.9.3 only, fixed in 3.9.4): the same follower applies
  # the synced transactions (the 4643 fix) but leaves them out of its
  # in-memory committed log; once it leads, it truncates a learner below
  # its own log and never sends the hole back.
  Scenario Outline: A sync cut between NEWLEADER and UPTODATE (<version>)
    Given a 3-member ensemble "zk" running ZooKeeper <version>
    And a workload of 4 clients at 200 ops/s on 20 keys
    When I name the leader A and its followers B and C
    # C falls behind: A and B commit writes without it.
    And I partition member C from the rest
    Then within 30s member C starts an election
    When I wait 2s
    # A, holding every write, leaves. B and C elect B; C syncs by DIFF, and
    # B freezes the moment C logs NEWLEADER: C takes the new epoch,
    # acknowledges, and waits for an UPTODATE that never comes. B runs on a
    # tenth of a CPU meanwhile, so that the window between NEWLEADER and
    # UPTODATE is hundreds of milliseconds wide, not ten.
    And I partition member A from the rest
    And I limit the CPU of member B to 10 percent
    And I heal member C
    And member C logs "Learner received NEWLEADER message", I pause member B
    Then within 30s member C starts an election
    # A comes back: A and C elect.
    When I heal member A
    Then within 60s member C leads
    When I wait 2s
    And I heal all faults
    Then within 60s every member serves in quorum
    And <outcome>

    Examples: affected: the loss is detected and named
      | version | outcome                                    |
      | 3.8.0   | the known bug ZOOKEEPER-4643 is reproduced |
      | 3.9.3   | the known bug ZOOKEEPER-4925 is reproduced |

    Examples: fixed: the same choreography loses nothing
      | version | outcome                        |
      | 3.9.6   | no acknowledged write was lost |

  # Deterministic whatever the timing: a follower killed at the moment it
  # syncs by DIFF (the ZOOKEEPER-4646 window on old versions) must lose
  # nothing on a fixed version.
  Scenario: A follower killed the moment it syncs by DIFF loses nothing (3.9.6)
    Given a 3-member ensemble "zk" running ZooKeeper 3.9.6
    And a workload of 4 clients at 200 ops/s on 20 keys
    When I name the leader A and its followers B and C
    And I partition member C from the rest
    Then within 30s member C starts an election
    When I wait 2s
    And I heal member C
    And member C syncs with the leader by DIFF, I kill member C
    Then within 30s member C loads its data
    And within 60s every member serves in quorum
    And the history is linearizable
    And no acknowledged write was lost
