//! Member status through exec: one `bash` per member asks its own server
//! over `127.0.0.1` for `srvr`, `conf`, `mntr` and the admin server's
//! `leader` command (bash's `/dev/tcp`: no `nc` needed in the image), each
//! answer between marker lines; the bodies go through the same parsers and
//! the same [`MemberStatus`] bookkeeping as the TCP probes of the local
//! backend. Probing from inside the pod works with any kubeconfig, through
//! partitions (loopback is never cut) and needs only `pods/exec`.
//!
//! The same script names the server process that answered, from the
//! container's own `/proc`: the one `java` process running ZooKeeper's
//! main class, its pid and start time. With the pod's uid that is
//! [`MemberStatus::instance`], so a kill, a container restart and a new pod
//! all show as a new process, while an election (which restarts
//! `zk_uptime`) does not.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::KubeCluster;
use super::error::KubeError;
use super::pods::PodInfo;
use crate::operator::k8s::build::CONTAINER;
use crate::probe::wire::http_body;
use crate::probe::{EnsembleStatus, MemberStatus};
use crate::zkconfig::CLIENT_PORT;

const BEGIN: &str = "@@zk-chaos-begin ";
const END: &str = "@@zk-chaos-end ";

/// Seconds each answer may take inside the pod (a paused server accepts
/// connections but never answers).
pub const ANSWER_SECS: u32 = 3;

/// The `ask WORD PORT REQUEST` shell function the scripts share: a begin
/// marker, the raw answer to `REQUEST` from `127.0.0.1:PORT`, and an end
/// marker with the outcome: `0` (answered), `124` (no answer in time) or
/// `refused`; it returns non-zero when there was no answer.
fn ask_function() -> String {
    format!(
        r#"t=""; command -v timeout >/dev/null 2>&1 && t="timeout {ANSWER_SECS}"
ask() {{
  printf '{BEGIN}%s\n' "$1"
  if exec 3<>"/dev/tcp/127.0.0.1/$2"; then
    printf "$3" >&3
    $t cat <&3
    rc=$?
    exec 3<&-
    printf '\n{END}%s %s\n' "$1" "$rc"
    return "$rc"
  else
    printf '\n{END}%s refused\n' "$1"
    return 1
  fi
}} 2>/dev/null
"#
    )
}

/// What a ZooKeeper server's command line carries: its main class.
pub const SERVER_MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// The script section (`proc`) naming the server process: every `java`
/// process (its first argument ends in `java`) whose command line contains
/// `needle`, one `PID STARTTIME` line each (field 22 of `/proc/PID/stat`,
/// in clock ticks since boot). The probing shell itself never matches.
fn server_process_section(needle: &str) -> String {
    format!(
        r#"printf '{BEGIN}proc\n'
for d in /proc/[0-9]*; do
  p=${{d#/proc/}}
  [ "$p" = "$$" ] && continue
  c=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
  a=${{c%% *}}
  case "$a" in *java) ;; *) continue ;; esac
  case "$c" in *'{needle}'*) ;; *) continue ;; esac
  read -r s < "$d/stat" 2>/dev/null || continue
  s=${{s##*) }}
  set -- $s
  printf '%s %s\n' "$p" "${{20}}"
done
printf '\n{END}proc 0\n'
"#
    )
}

/// The probe script (`bash -c`): the server process (see
/// [`server_process`]), then `srvr`, `conf`, `mntr` (on `client_port`) and
/// the admin server's `leader` (on `admin_port`), each between markers (see
/// [`split_answers`]). A member that does not answer `srvr` is asked
/// nothing more (a paused one costs one bound, not four).
pub fn probe_script(client_port: u16, admin_port: u16) -> String {
    probe_script_for(client_port, admin_port, SERVER_MAIN_CLASS)
}

/// [`probe_script`] naming the `java` process whose command line contains
/// `needle` as the server (tests stand a process of their own in).
pub fn probe_script_for(client_port: u16, admin_port: u16, needle: &str) -> String {
    format!(
        "{}{}ask srvr {client_port} srvr || exit 0\nask conf {client_port} conf\nask mntr {client_port} mntr\n\
         ask leader {admin_port} 'GET /commands/leader HTTP/1.0\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n'\n",
        ask_function(),
        server_process_section(needle)
    )
}

/// The server process in a `proc` answer: `pid P started at tick T` (the
/// local backend's form), when exactly one process matched; none when no
/// process or more than one did (a wrong process would be worse than none).
pub fn server_process(answer: &str) -> Option<String> {
    let mut lines = answer.lines().map(str::trim).filter(|l| !l.is_empty());
    let only = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    let (pid, ticks) = only.split_once(' ')?;
    let (pid, ticks) = (pid.parse::<u32>().ok()?, ticks.trim().parse::<u64>().ok()?);
    Some(crate::probe::status::process_instance(pid, ticks))
}

/// The script asking one four-letter `word` on `client_port`.
pub fn four_letter_script(client_port: u16, word: &str) -> String {
    format!("{}ask {word} {client_port} {word}\n", ask_function())
}

/// The answers in a probe script's output, by word: the body, or why there
/// is none.
pub fn split_answers(output: &str) -> BTreeMap<String, Result<String, String>> {
    let mut out = BTreeMap::new();
    let mut rest = output;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some((word, body_and_more)) = after.split_once('\n') else { break };
        let end_marker = format!("\n{END}{word} ");
        let Some(end) = body_and_more.find(&end_marker) else {
            out.insert(word.to_string(), Err("the probe output was cut off".to_string()));
            break;
        };
        let body = &body_and_more[..end];
        let tail = &body_and_more[end + end_marker.len()..];
        let (outcome, next) = tail.split_once('\n').unwrap_or((tail, ""));
        let result = match outcome.trim() {
            "0" => Ok(body.to_string()),
            "124" => Err(format!("no answer within {ANSWER_SECS}s")),
            "refused" => Err("connection refused".to_string()),
            other => Err(format!("reading the answer failed ({other})")),
        };
        out.insert(word.to_string(), result);
        rest = next;
    }
    out
}

/// A member's status from a probe script's output.
pub fn member_from_output(ordinal: u32, addr: Ipv4Addr, output: &str) -> MemberStatus {
    let mut answers = split_answers(output);
    let mut take = |w: &str| answers.remove(w).unwrap_or_else(|| Err(format!("no `{w}` answer in the probe output")));
    let mut st = MemberStatus::unprobed(ordinal, addr);
    st.instance = take("proc").ok().as_deref().and_then(server_process);
    if st.record_srvr(take("srvr").map_err(|e| format!("srvr: {e}"))) {
        let leader = take("leader").and_then(|reply| http_body(&reply).map(String::from));
        st.record_details(take("conf"), take("mntr"), leader);
    }
    st
}

impl KubeCluster {
    /// The admin server port of the ensemble (its spec's, else the default).
    async fn admin_port(&self) -> u16 {
        match self.get_cluster().await {
            Ok(zk) => zk.spec.admin_server_port,
            Err(_) => crate::zkconfig::ADMIN_PORT,
        }
    }

    async fn probe_pod(&self, pod: &PodInfo, admin_port: u16) -> Result<MemberStatus, KubeError> {
        let addr = pod.ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        if pod.ip.is_none() || pod.phase.as_deref() != Some("Running") {
            let mut st = MemberStatus::unprobed(pod.ordinal, addr);
            st.error = Some(format!("pod {} is {}", pod.name, pod.phase.as_deref().unwrap_or("without a phase")));
            return Ok(st);
        }
        let command = vec!["/bin/bash".to_string(), "-c".to_string(), probe_script(CLIENT_PORT, admin_port)];
        match self.exec.exec(self.namespace(), &pod.name, CONTAINER, &command, self.timeouts.exec).await {
            Ok(out) => {
                let mut st = member_from_output(pod.ordinal, addr, &out.stdout);
                // A recreated pod may reuse the pid and, on another node, the tick: its uid tells it apart.
                st.instance = st.instance.map(|p| format!("pod {} {p}", pod.uid.as_deref().unwrap_or("(no uid)")));
                Ok(st)
            }
            // Access problems are the harness's, not the member's: never report them as a member down.
            Err(e @ (KubeError::Forbidden { .. } | KubeError::Unreachable { .. })) => Err(e),
            Err(e) => {
                let mut st = MemberStatus::unprobed(pod.ordinal, addr);
                st.error = Some(e.to_string());
                Ok(st)
            }
        }
    }

    /// Send the four-letter `word` to member `ordinal` (from inside its pod)
    /// and return the answer.
    pub async fn four_letter(&self, ordinal: u32, word: &str) -> Result<String, KubeError> {
        let pod = self.pod(ordinal).await?;
        if word.len() != 4 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(KubeError::Exec { pod: pod.name, detail: format!("`{word}` is not a four-letter word") });
        }
        let command = vec!["/bin/bash".to_string(), "-c".to_string(), four_letter_script(CLIENT_PORT, word)];
        let out = self.exec.exec(self.namespace(), &pod.name, CONTAINER, &command, self.timeouts.exec).await?;
        match split_answers(&out.stdout).remove(word) {
            Some(Ok(body)) => Ok(body),
            Some(Err(why)) => Err(KubeError::Exec { pod: pod.name, detail: format!("{word}: {why}") }),
            None => Err(KubeError::Exec { pod: pod.name, detail: format!("{word}: no answer in the output") }),
        }
    }

    /// Probe member `ordinal`.
    pub async fn member_status(&self, ordinal: u32) -> Result<MemberStatus, KubeError> {
        let pod = self.pod(ordinal).await?;
        let admin = self.admin_port().await;
        self.probe_pod(&pod, admin).await
    }

    /// Probe every member pod (concurrently) and judge the ensemble.
    pub async fn status(&self) -> Result<EnsembleStatus, KubeError> {
        let pods = self.pods().await?;
        let admin = self.admin_port().await;
        let probes = futures::future::join_all(pods.iter().map(|p| self.probe_pod(p, admin))).await;
        Ok(EnsembleStatus::judge(probes.into_iter().collect::<Result<Vec<_>, _>>()?))
    }
}
