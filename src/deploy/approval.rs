//! Who has to agree before a change set is executed, and how they say so.
//!
//! Every change needs a yes: at a terminal a y/N prompt, in CI `--yes`. Changes at or above the
//! `--require-approval` level need an *explicit* yes, typed at a terminal, which `--yes` does
//! not give: by default that is the risky ones (stateful replacement or removal, broadened
//! security, an imported export changing — the diff's "needs approval" class). In a protected
//! env a risky change is confirmed by typing the env's name. Without a terminal and without
//! `--yes` nothing is executed, and the exit code says why (3 when approval is needed).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, BufRead, Write};

use clap::ValueEnum;

use crate::Status;
use crate::diff::DiffClass;

/// `--require-approval`: which changes need an explicit approval that `--yes` does not give.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequireApproval {
    /// None: `--yes` (or a y at the prompt) deploys anything.
    Never,
    /// Every change needs a y typed at a terminal.
    AnyChange,
    /// Risky changes (stateful replacement or removal, security broadening) need a y typed at a
    /// terminal; others are covered by `--yes`.
    #[default]
    Risky,
}

/// Everything the decision depends on besides the diff.
#[derive(Clone, Debug)]
pub struct Approval {
    /// `--require-approval`.
    pub policy: RequireApproval,
    /// `--yes`.
    pub yes: bool,
    /// A person can answer prompts.
    pub interactive: bool,
    /// The env file says `protected = true`.
    pub protected: bool,
    /// The env's name, typed to confirm risky changes in a protected env.
    pub env: String,
}

/// What has to happen before a stack's change set may run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Proceed,
    /// Ask the person at the terminal.
    Ask(Question),
    /// Do not execute; end with this status and sentence.
    Refuse {
        /// 3 when approval is needed, else 1.
        status: Status,
        /// Why, and what would allow it.
        reason: String,
    },
}

/// How the person at the terminal confirms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Question {
    /// `[y/N]`.
    YesNo,
    /// Type the env's name (risky changes in a protected env).
    TypeEnvName,
}

impl Approval {
    /// What a change of this class needs before it is executed.
    pub fn decide(&self, class: DiffClass) -> Decision {
        let risky = class == DiffClass::NeedsApproval;
        if class == DiffClass::NoChanges {
            return Decision::Proceed;
        }
        let question = if self.protected && risky {
            Question::TypeEnvName
        } else {
            Question::YesNo
        };
        let explicit = match self.policy {
            RequireApproval::Never => false,
            RequireApproval::AnyChange => true,
            RequireApproval::Risky => risky,
        };
        if self.interactive && (explicit || !self.yes) {
            return Decision::Ask(question);
        }
        if explicit {
            let what = if risky { "risky changes" } else { "changes" };
            return Decision::Refuse {
                status: Status::NeedsApproval,
                reason: format!(
                    "nothing was executed: {what} need an explicit approval at a terminal under \
                     --require-approval {}, which --yes does not give; run from a terminal, or \
                     pass --require-approval never once a person has approved the plan",
                    self.policy_name()
                ),
            };
        }
        if self.yes {
            return Decision::Proceed;
        }
        Decision::Refuse {
            status: if risky {
                Status::NeedsApproval
            } else {
                Status::Failure
            },
            reason: "nothing was executed: there is no terminal to ask for approval; pass --yes \
                     to deploy without asking"
                .to_owned(),
        }
    }

    fn policy_name(&self) -> &'static str {
        match self.policy {
            RequireApproval::Never => "never",
            RequireApproval::AnyChange => "any-change",
            RequireApproval::Risky => "risky",
        }
    }

    /// The prompt for a stack's change set.
    pub fn prompt(&self, question: Question, stack: &str) -> String {
        match question {
            Question::YesNo => format!("Deploy these changes to {stack}? [y/N] "),
            Question::TypeEnvName => format!(
                "{stack} has risky changes in the protected env {env}. Type {env} to deploy: ",
                env = self.env
            ),
        }
    }

    /// Whether an answer approves.
    pub fn approves(&self, question: Question, answer: &str) -> bool {
        let answer = answer.trim();
        match question {
            Question::YesNo => matches!(answer, "y" | "Y" | "yes" | "Yes" | "YES"),
            Question::TypeEnvName => answer == self.env,
        }
    }
}

/// Where answers come from: the terminal, or a script in tests.
pub enum Answers {
    /// Standard input, read on a blocking thread so the other stacks keep being watched; the
    /// prompt goes to this stream (the printer's stderr).
    Terminal(crate::printer::Stream),
    /// Answers given in advance, one per prompt; none left reads as no.
    Scripted(RefCell<VecDeque<String>>),
}

impl Answers {
    /// Scripted answers.
    pub fn scripted<I: IntoIterator<Item = S>, S: Into<String>>(answers: I) -> Self {
        Answers::Scripted(RefCell::new(answers.into_iter().map(Into::into).collect()))
    }

    /// Shows `prompt` on stderr and reads one line; end of input is an empty answer.
    pub async fn ask(&self, prompt: &str) -> io::Result<String> {
        match self {
            Answers::Scripted(answers) => Ok(answers.borrow_mut().pop_front().unwrap_or_default()),
            Answers::Terminal(stderr) => {
                let mut stderr = stderr.clone();
                write!(stderr, "{prompt}")?;
                stderr.flush()?;
                let line = tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    io::stdin().lock().read_line(&mut line).map(|_| line)
                })
                .await
                .map_err(io::Error::other)??;
                Ok(line)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(policy: RequireApproval, yes: bool, interactive: bool) -> Approval {
        Approval {
            policy,
            yes,
            interactive,
            protected: false,
            env: "prod".into(),
        }
    }

    use DiffClass::{Changes, NeedsApproval, NoChanges};
    use RequireApproval::{AnyChange, Never, Risky};

    #[test]
    fn no_changes_need_no_approval() {
        assert_eq!(
            approval(Risky, false, false).decide(NoChanges),
            Decision::Proceed
        );
    }

    #[test]
    fn yes_deploys_ordinary_changes_without_asking() {
        assert_eq!(
            approval(Risky, true, false).decide(Changes),
            Decision::Proceed
        );
        assert_eq!(
            approval(Risky, true, true).decide(Changes),
            Decision::Proceed
        );
    }

    #[test]
    fn at_a_terminal_without_yes_every_change_is_asked() {
        assert_eq!(
            approval(Never, false, true).decide(Changes),
            Decision::Ask(Question::YesNo)
        );
    }

    #[test]
    fn risky_changes_are_asked_even_with_yes() {
        assert_eq!(
            approval(Risky, true, true).decide(NeedsApproval),
            Decision::Ask(Question::YesNo)
        );
    }

    #[test]
    fn risky_changes_without_a_terminal_are_refused_with_exit_3_even_with_yes() {
        let Decision::Refuse { status, reason } =
            approval(Risky, true, false).decide(NeedsApproval)
        else {
            panic!("refused")
        };
        assert_eq!(status, Status::NeedsApproval);
        assert!(reason.contains("--require-approval never"), "{reason}");
    }

    #[test]
    fn never_lets_yes_deploy_risky_changes() {
        assert_eq!(
            approval(Never, true, false).decide(NeedsApproval),
            Decision::Proceed
        );
    }

    #[test]
    fn any_change_asks_for_every_change_even_with_yes() {
        assert_eq!(
            approval(AnyChange, true, true).decide(Changes),
            Decision::Ask(Question::YesNo)
        );
        assert!(matches!(
            approval(AnyChange, true, false).decide(Changes),
            Decision::Refuse {
                status: Status::NeedsApproval,
                ..
            }
        ));
    }

    #[test]
    fn without_a_terminal_or_yes_ordinary_changes_exit_1_and_say_to_pass_yes() {
        let Decision::Refuse { status, reason } = approval(Never, false, false).decide(Changes)
        else {
            panic!("refused")
        };
        assert_eq!(status, Status::Failure);
        assert!(reason.contains("pass --yes"), "{reason}");
        assert!(matches!(
            approval(Never, false, false).decide(NeedsApproval),
            Decision::Refuse {
                status: Status::NeedsApproval,
                ..
            }
        ));
    }

    #[test]
    fn a_protected_env_makes_risky_changes_confirmed_by_typing_its_name() {
        let mut a = approval(Risky, false, true);
        a.protected = true;
        assert_eq!(
            a.decide(NeedsApproval),
            Decision::Ask(Question::TypeEnvName)
        );
        assert_eq!(a.decide(Changes), Decision::Ask(Question::YesNo));
        assert!(a.approves(Question::TypeEnvName, "prod\n"));
        assert!(!a.approves(Question::TypeEnvName, "y"));
        assert!(
            a.prompt(Question::TypeEnvName, "ce-prod-storage")
                .contains("Type prod")
        );
    }

    #[test]
    fn only_yes_approves_a_yes_no_question() {
        let a = approval(Risky, false, true);
        assert!(a.approves(Question::YesNo, "y\n"));
        assert!(a.approves(Question::YesNo, "yes"));
        assert!(!a.approves(Question::YesNo, ""));
        assert!(!a.approves(Question::YesNo, "n"));
    }
}
