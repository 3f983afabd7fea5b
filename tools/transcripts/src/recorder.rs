//! Recording a transcript: a seeded client driven through a run, every `poll` written down
//! with the answer handed back. What a recorder brings is the CA's side (who answers a
//! request, who publishes a challenge: see [`Recorder::run`]) and the clock ([`Clock`]):
//! the engine's test CA with a simulated clock (`examples/record.rs`), or Pebble with the
//! wall clock (`examples/record_pebble.rs`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use certsmith_core::{Client, Input, OpId, Output, PrivateKey, Timestamp};
use serde_json::Value;

use crate::{Config, FORMAT, Step, Transcript, client_config, input_value, output_value};

/// Where a recording's time comes from.
pub trait Clock {
    /// Now, ms since the epoch.
    fn now(&mut self) -> u64;
    /// Lets time pass until `at` (ms since the epoch), or fails saying why it cannot.
    fn wait_until(&mut self, at: u64) -> Result<(), String>;
}

/// A simulated clock: it stands still while the client has work and jumps to the time the
/// client asks to be woken at.
#[derive(Clone, Copy, Debug)]
pub struct SimulatedClock(pub u64);

impl Clock for SimulatedClock {
    fn now(&mut self) -> u64 {
        self.0
    }

    fn wait_until(&mut self, at: u64) -> Result<(), String> {
        self.0 = self.0.max(at);
        Ok(())
    }
}

/// The wall clock, with a deadline: waiting past it is an error, so that a run against a
/// real CA that stops answering ends.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    /// When waiting stops being allowed.
    deadline: Instant,
}

impl WallClock {
    /// The wall clock, allowing waits until `limit` from now.
    pub fn with_limit(limit: Duration) -> Self {
        Self {
            deadline: Instant::now() + limit,
        }
    }
}

impl Clock for WallClock {
    fn now(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn wait_until(&mut self, at: u64) -> Result<(), String> {
        let wait = Duration::from_millis(at.saturating_sub(self.now()));
        if Instant::now() + wait > self.deadline {
            return Err(format!(
                "the run would wait {wait:?} more, past its deadline: is the CA answering?"
            ));
        }
        std::thread::sleep(wait);
        // Sleep rounds down at times; the next poll must not come before `at`.
        while self.now() < at {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

/// A client being recorded: its configuration, the commands started and the steps so far.
pub struct Recorder {
    /// The client.
    client: Client,
    /// The transcript written so far.
    transcript: Transcript,
}

impl Recorder {
    /// A client for `directory_url` with `account_key`, its randomness seeded with `seed`,
    /// sending `user_agent` before the engine's token; `description` says what the run shows.
    pub fn new(
        description: &str,
        directory_url: &str,
        account_key: PrivateKey,
        seed: [u8; 32],
        user_agent: &str,
    ) -> Result<Self, String> {
        let config = Config {
            directory_url: directory_url.to_owned(),
            account_key_pem: account_key.to_pem().to_string(),
            seed_hex: seed.iter().map(|b| format!("{b:02x}")).collect(),
            user_agent: Some(user_agent.to_owned()),
        };
        let client = Client::new(client_config(&config)?, account_key);
        Ok(Self {
            client,
            transcript: Transcript {
                format: FORMAT.to_owned(),
                description: description.to_owned(),
                config,
                commands: Vec::new(),
                steps: Vec::new(),
            },
        })
    }

    /// Starts `command` (the JS package's command object) and writes it down.
    pub fn start(&mut self, command: Value) -> Result<OpId, String> {
        let parsed = certsmith_js::command_from_json(&command.to_string())
            .map_err(|e| format!("command {command}: {e}"))?;
        let op = self.client.start(parsed).map_err(|e| e.to_string())?;
        self.transcript.commands.push(command);
        Ok(op)
    }

    /// Polls the client until it has nothing left to do, at most `max_steps` times, and
    /// returns the transcript. Each output is handed to `answer` with the time of its poll;
    /// what `answer` returns (a response, a challenge report) is written down and handed
    /// back. When the client has nothing to do now, `clock` waits until it asks to be woken.
    pub fn run<C: Clock>(
        mut self,
        clock: &mut C,
        max_steps: usize,
        mut answer: impl FnMut(&Output, Timestamp) -> Result<Option<Input>, String>,
    ) -> Result<Transcript, String> {
        for _ in 0..max_steps {
            let now = clock.now();
            let at = Timestamp::from_unix_millis(now);
            let Some(output) = self.client.poll(at) else {
                self.transcript.steps.push(Step {
                    now,
                    output: None,
                    input: None,
                });
                match self.client.next_wakeup() {
                    Some(next) => {
                        clock.wait_until(next.unix_millis().max(now + 1))?;
                        continue;
                    }
                    None => return Ok(self.transcript),
                }
            };
            let value = output_value(&output)?;
            let input = answer(&output, at)
                .map_err(|e| format!("step {}: {e}", self.transcript.steps.len()))?;
            self.transcript.steps.push(Step {
                now,
                output: Some(value),
                input: input.as_ref().map(input_value),
            });
            if let Some(input) = input {
                self.client
                    .handle(at, output.op, input)
                    .map_err(|e| e.to_string())?;
            }
        }
        Err(format!("the run did not end within {max_steps} polls"))
    }
}
