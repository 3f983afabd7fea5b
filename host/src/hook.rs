//! Running the user's hook commands (`--dns-hook`, `--deploy-hook`): through `sh -c`, with
//! arguments appended and facts in environment variables, bounded in time, and a failure
//! reported as one line naming the command, its exit status and the last line it wrote to
//! stderr. Each run is a process group of its own: a hook stopped (its time is up, or
//! certsmith is interrupted) is stopped with everything it started (a `curl` or `nsupdate`
//! left behind could still publish a record later).

use std::process::Stdio;
use std::time::Duration;

/// Kills a hook's process group when dropped before the hook exited.
struct Group(Option<rustix::process::Pid>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(leader) = self.0.take() {
            // The group may be gone already; nothing else is to be done either way.
            let _ = rustix::process::kill_process_group(leader, rustix::process::Signal::KILL);
        }
    }
}

/// A hook command line, as the user gave it.
#[derive(Debug, Clone)]
pub struct Hook {
    /// The command line; `sh -c` runs it with the arguments appended.
    pub command: String,
    /// How long one run may take before it is killed.
    pub timeout: Duration,
}

impl Hook {
    /// Runs the hook with `args` appended and `env` set; Ok once it exited 0.
    pub async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
        let shown = format!("`{} {}`", self.command, args.join(" "));
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{} \"$@\"", self.command))
            .arg("certsmith-hook")
            .args(args)
            .envs(env.iter().copied())
            // A hook is not given certsmith's secrets.
            .env_remove("CERTSMITH_EAB_HMAC")
            .env_remove("CERTSMITH_EDGE_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot run the hook {shown}: {e}"))?;
        let mut group = Group(
            child
                .id()
                .and_then(|id| rustix::process::Pid::from_raw(i32::try_from(id).ok()?)),
        );
        let waited = tokio::time::timeout(self.timeout, child.wait_with_output()).await;
        if matches!(waited, Ok(Ok(_))) {
            // It exited: what it left running on purpose is its own business.
            group.0 = None;
        }
        let output = match waited {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => return Err(format!("the hook {shown} failed: {e}")),
            Err(_) => {
                return Err(format!(
                    "the hook {shown} did not finish within {} s and was stopped",
                    self.timeout.as_secs()
                ));
            }
        };
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last_line = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!(": {}", l.trim()))
            .unwrap_or_default();
        Err(format!(
            "the hook {shown} failed ({}){last_line}",
            output.status
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(command: &str) -> Hook {
        Hook {
            command: command.into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn arguments_and_environment_reach_the_command() {
        let ok =
            hook(r#"test "$CERTSMITH_X" = y && test "$1" = present && test "$3" = value && true"#)
                .run(&["present", "-n", "value"], &[("CERTSMITH_X", "y")])
                .await;
        assert_eq!(ok, Ok(()));
    }

    #[tokio::test]
    async fn a_failure_names_the_command_status_and_last_stderr_line() {
        let error = hook("echo first >&2; echo 'zone not found' >&2; exit 3 #")
            .run(&["present", "a"], &[])
            .await
            .expect_err("exit 3 is a failure");
        assert!(error.contains("present a"), "{error}");
        assert!(error.contains("exit status: 3"), "{error}");
        assert!(error.ends_with(": zone not found"), "{error}");
    }

    #[tokio::test]
    async fn a_hook_that_hangs_is_stopped_with_what_it_started() {
        let dir = tempfile::tempdir().expect("dir");
        let late = dir.path().join("published-late");
        let error = Hook {
            command: format!("(sleep 1; touch {}) & sleep 30 #", late.display()),
            timeout: Duration::from_millis(200),
        }
        .run(&[], &[])
        .await
        .expect_err("times out");
        assert!(error.contains("did not finish"), "{error}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !late.exists(),
            "the hook's child lived on and acted after the hook was stopped"
        );
    }
}
