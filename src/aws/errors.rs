//! The one place AWS errors are interpreted.
//!
//! CloudFormation reports "stack does not exist", "no changes" and "stack is busy" as a
//! `ValidationError` whose only distinguishing mark is its message, and the SDK reports missing
//! credentials as a dispatch failure several causes deep. Everything that talks to AWS turns its
//! SDK error into an [`AwsError`] here, so callers match on meaning, and a user reads a sentence
//! saying what happened and what to do, never a debug dump.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};

/// What went wrong talking to AWS, classified by what the user should do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// The stack (named when known) does not exist.
    #[error("stack {} does not exist", .stack.as_deref().unwrap_or("(unnamed)"))]
    StackNotFound {
        /// The stack's name or id, when the caller or the message says.
        stack: Option<String>,
    },
    /// A change set or update would change nothing.
    #[error("nothing to change: {message}")]
    NoChanges {
        /// AWS's wording.
        message: String,
    },
    /// AWS kept throttling after the SDK's retries.
    #[error(
        "AWS is throttling {operation} ({code}) even after retries; wait a minute and run again, \
         or run fewer deploys against this account at once"
    )]
    Throttled {
        /// The API call.
        operation: String,
        /// The throttling code AWS sent.
        code: String,
    },
    /// The credentials are valid but not allowed to do this, or are not recognised.
    #[error(
        "AWS denied {operation}: {message} ({code}); use credentials whose role allows it \
         (check AWS_PROFILE and `aws sts get-caller-identity`)"
    )]
    AccessDenied {
        /// The API call.
        operation: String,
        /// The denial code AWS sent.
        code: String,
        /// AWS's wording, which usually names the missing permission.
        message: String,
    },
    /// The credentials' session has ended.
    #[error(
        "the AWS credentials have expired; refresh them (`aws sso login`, or new session \
         credentials) and run again"
    )]
    ExpiredCredentials,
    /// No provider in the chain found credentials.
    #[error(
        "no AWS credentials found; set AWS_PROFILE to a configured profile (and run `aws sso \
         login` if it uses SSO), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use \
         --local to work against the local sandbox"
    )]
    NoCredentials,
    /// The stack is in the middle of an operation and cannot take another.
    #[error(
        "stack {} is busy ({status}); wait until that operation finishes (`ce status`) and run again",
        .stack.as_deref().unwrap_or("(unnamed)")
    )]
    InProgress {
        /// The stack, when known.
        stack: Option<String>,
        /// Its `*_IN_PROGRESS` status.
        status: String,
    },
    /// The endpoint answered HTTP 5xx without an error code: the local sandbox (moto) does this
    /// for calls it does not implement.
    #[error(
        "{operation} failed with HTTP {http_status} and no error code; the endpoint does not \
         implement it (the local sandbox lacks some calls), or AWS had an internal error: run again"
    )]
    Unhandled {
        /// The API call.
        operation: String,
        /// The HTTP status.
        http_status: u16,
    },
    /// The request never got an answer: no network, wrong endpoint, or the sandbox is stopped.
    #[error(
        "could not reach AWS for {operation}: {detail}; check the network, AWS_ENDPOINT_URL, \
         or with --local `ce sandbox status`"
    )]
    Unreachable {
        /// The API call.
        operation: String,
        /// The transport's reason.
        detail: String,
    },
    /// Anything else, with AWS's code and message.
    #[error("{operation} failed: {message} ({code})")]
    Other {
        /// The API call.
        operation: String,
        /// AWS's error code, or a description of the failure's kind.
        code: String,
        /// AWS's wording, or the cause chain.
        message: String,
    },
}

impl AwsError {
    /// Classifies an SDK error from `operation`, optionally on the named stack.
    pub fn from_sdk<E>(operation: &str, stack: Option<&str>, err: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        match &err {
            SdkError::ServiceError(service) => classify(
                operation,
                stack,
                service.err().code(),
                service.err().message().unwrap_or_default(),
                service.raw().status().as_u16(),
            ),
            SdkError::ResponseError(response) => Self::Other {
                operation: operation.to_owned(),
                code: format!("HTTP {}", response.raw().status().as_u16()),
                message: format!("unreadable response: {}", cause_chain(&err)),
            },
            SdkError::TimeoutError(_) => Self::Unreachable {
                operation: operation.to_owned(),
                detail: "timed out".to_owned(),
            },
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
                credentials_problem(&err).unwrap_or_else(|| match &err {
                    // A connection refused, reset or closed before the answer (`is_other` covers
                    // "connection closed before message completed") means nothing usable came
                    // back: the network or the endpoint is the problem, not the request.
                    SdkError::DispatchFailure(failure) if !failure.is_user() => Self::Unreachable {
                        operation: operation.to_owned(),
                        detail: root_cause(&err),
                    },
                    _ => Self::Other {
                        operation: operation.to_owned(),
                        code: "request not sent".to_owned(),
                        message: cause_chain(&err),
                    },
                })
            }
            _ => Self::Other {
                operation: operation.to_owned(),
                code: "unknown".to_owned(),
                message: cause_chain(&err),
            },
        }
    }

    /// Whether this says the stack does not exist.
    pub fn is_stack_not_found(&self) -> bool {
        matches!(self, Self::StackNotFound { .. })
    }

    /// Whether this says what was to be created exists already (`AlreadyExistsException`).
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Self::Other { code, .. } if code == "AlreadyExistsException")
    }
}

/// Classifies an error AWS answered with, from its code, message and HTTP status alone.
pub fn classify(
    operation: &str,
    stack: Option<&str>,
    code: Option<&str>,
    message: &str,
    http_status: u16,
) -> AwsError {
    let owned_stack = || {
        stack
            .map(str::to_owned)
            .or_else(|| stack_in_message(message))
    };
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        if http_status >= 500 {
            return AwsError::Unhandled {
                operation: operation.to_owned(),
                http_status,
            };
        }
        return AwsError::Other {
            operation: operation.to_owned(),
            code: format!("HTTP {http_status}"),
            message: message.to_owned(),
        };
    };
    match code {
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown" => AwsError::Throttled {
            operation: operation.to_owned(),
            code: code.to_owned(),
        },
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => AwsError::ExpiredCredentials,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "AuthFailure" => AwsError::AccessDenied {
            operation: operation.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
        },
        "ValidationError" if message.contains("does not exist") && message.contains("Stack") => {
            AwsError::StackNotFound {
                stack: owned_stack(),
            }
        }
        "ValidationError" if is_no_changes(message) => AwsError::NoChanges {
            message: message.to_owned(),
        },
        "ValidationError" | "OperationInProgressException" if in_progress(message).is_some() => {
            AwsError::InProgress {
                stack: owned_stack(),
                status: in_progress(message).unwrap_or_default(),
            }
        }
        _ => AwsError::Other {
            operation: operation.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
        },
    }
}

/// Whether AWS's message (an error, or a change set's status reason) means "nothing to change".
pub fn is_no_changes(message: &str) -> bool {
    message.contains("No updates are to be performed")
        || message.contains("didn't contain changes")
        || message.contains("No changes")
}

/// Whether ListImports said the export is imported by no stack (an answer, not a failure).
pub fn is_not_imported(err: &AwsError) -> bool {
    matches!(err, AwsError::Other { code, message, .. }
        if code == "ValidationError" && message.contains("is not imported by any stack"))
}

/// The `*_IN_PROGRESS` status named in a message, if any.
fn in_progress(message: &str) -> Option<String> {
    message
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .find(|word| word.ends_with("_IN_PROGRESS") && word.len() > "_IN_PROGRESS".len())
        .map(str::to_owned)
}

/// The stack named by "Stack with id NAME does not exist" or "Stack:ARN is in ...".
fn stack_in_message(message: &str) -> Option<String> {
    let name = if let Some(rest) = message.split("Stack with id ").nth(1) {
        rest.split_whitespace().next()
    } else {
        message
            .split("Stack:")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
    }?;
    // An ARN ends `:stack/<name>/<uuid>`; the name is what the user knows.
    let name = match name.split("stack/").nth(1) {
        Some(tail) => tail.split('/').next().unwrap_or(tail),
        None => name,
    };
    Some(name.to_owned())
}

/// The credentials problem buried in a request that was never sent, if that is what it is.
fn credentials_problem(err: &(dyn StdError + 'static)) -> Option<AwsError> {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(creds) = e.downcast_ref::<CredentialsError>() {
            let text = cause_chain(creds).to_ascii_lowercase();
            return Some(if text.contains("expired") {
                AwsError::ExpiredCredentials
            } else {
                AwsError::NoCredentials
            });
        }
        cause = e.source();
    }
    None
}

/// The innermost cause, e.g. "Connection refused (os error 111)" under the transport's layers.
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// An error and its causes on one line, innermost last.
fn cause_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::config::http::HttpResponse;
    use aws_sdk_cloudformation::error::ErrorMetadata;
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn service_error(
        code: Option<&str>,
        message: &str,
        status: u16,
    ) -> SdkError<DescribeStacksError, HttpResponse> {
        let mut meta = ErrorMetadata::builder().message(message);
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let status = StatusCode::try_from(status).expect("valid status");
        SdkError::service_error(
            DescribeStacksError::generic(meta.build()),
            HttpResponse::new(status, SdkBody::empty()),
        )
    }

    fn from(code: Option<&str>, message: &str, status: u16) -> AwsError {
        AwsError::from_sdk("DescribeStacks", None, service_error(code, message, status))
    }

    #[test]
    fn a_missing_stack_is_stack_not_found_naming_it() {
        let err = from(
            Some("ValidationError"),
            "Stack with id ce-beta-network does not exist",
            400,
        );
        assert_eq!(
            err,
            AwsError::StackNotFound {
                stack: Some("ce-beta-network".into())
            }
        );
        assert_eq!(err.to_string(), "stack ce-beta-network does not exist");
    }

    #[test]
    fn an_update_with_nothing_to_do_is_no_changes() {
        let err = from(
            Some("ValidationError"),
            "No updates are to be performed.",
            400,
        );
        assert!(matches!(err, AwsError::NoChanges { .. }));
    }

    #[test]
    fn a_change_set_status_reason_without_changes_reads_as_no_changes() {
        assert!(is_no_changes(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(!is_no_changes(
            "Resource is not in the state stackUpdateComplete"
        ));
    }

    #[test]
    fn throttling_codes_are_throttled_and_say_to_wait() {
        for code in ["Throttling", "ThrottlingException", "RequestLimitExceeded"] {
            let err = from(Some(code), "Rate exceeded", 400);
            assert!(matches!(err, AwsError::Throttled { .. }), "{code}");
            assert!(err.to_string().contains("wait a minute"));
        }
    }

    #[test]
    fn access_denied_keeps_aws_message_naming_the_permission() {
        let err = from(
            Some("AccessDenied"),
            "User: arn:aws:iam::1:user/x is not authorized to perform: cloudformation:DescribeStacks",
            403,
        );
        assert!(matches!(err, AwsError::AccessDenied { .. }));
        assert!(
            err.to_string()
                .contains("not authorized to perform: cloudformation:DescribeStacks")
        );
    }

    #[test]
    fn an_expired_token_says_to_refresh_credentials() {
        let err = from(
            Some("ExpiredToken"),
            "The security token included in the request is expired",
            403,
        );
        assert_eq!(err, AwsError::ExpiredCredentials);
        assert!(err.to_string().contains("aws sso login"));
    }

    #[test]
    fn a_busy_stack_is_in_progress_with_its_status_and_name() {
        let err = from(
            Some("ValidationError"),
            "Stack:arn:aws:cloudformation:us-east-1:123456789012:stack/ce-beta-compute/0f1e2d is in UPDATE_IN_PROGRESS state and can not be updated.",
            400,
        );
        assert_eq!(
            err,
            AwsError::InProgress {
                stack: Some("ce-beta-compute".into()),
                status: "UPDATE_IN_PROGRESS".into()
            }
        );
    }

    #[test]
    fn a_stack_name_from_the_caller_wins_over_the_message() {
        let err = AwsError::from_sdk(
            "DescribeStacks",
            Some("ce-prod-edge"),
            service_error(
                Some("ValidationError"),
                "Stack with id arn:x does not exist",
                400,
            ),
        );
        assert_eq!(
            err,
            AwsError::StackNotFound {
                stack: Some("ce-prod-edge".into())
            }
        );
    }

    #[test]
    fn an_export_nobody_imports_is_recognised() {
        let err = from(
            Some("ValidationError"),
            "Export 'ce-beta-network-VpcId' is not imported by any stack.",
            400,
        );
        assert!(is_not_imported(&err));
        assert!(!is_not_imported(&from(
            Some("ValidationError"),
            "other",
            400
        )));
    }

    #[test]
    fn a_server_error_without_code_is_unhandled() {
        let err = from(None, "", 500);
        assert_eq!(
            err,
            AwsError::Unhandled {
                operation: "DescribeStacks".into(),
                http_status: 500
            }
        );
    }

    #[test]
    fn an_unknown_validation_error_is_other_with_code_and_message() {
        let err = from(
            Some("ValidationError"),
            "Template format error: unsupported structure.",
            400,
        );
        assert_eq!(
            err.to_string(),
            "DescribeStacks failed: Template format error: unsupported structure. (ValidationError)"
        );
    }

    #[test]
    fn a_request_without_credentials_is_no_credentials() {
        let creds = CredentialsError::not_loaded("no providers in chain provided credentials");
        let err: SdkError<DescribeStacksError, HttpResponse> = SdkError::dispatch_failure(
            aws_sdk_cloudformation::error::ConnectorError::other(Box::new(creds), None),
        );
        assert_eq!(
            AwsError::from_sdk("DescribeStacks", None, err),
            AwsError::NoCredentials
        );
    }

    #[test]
    fn a_refused_connection_is_unreachable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let err: SdkError<DescribeStacksError, HttpResponse> = SdkError::dispatch_failure(
            aws_sdk_cloudformation::error::ConnectorError::io(Box::new(io)),
        );
        let err = AwsError::from_sdk("DescribeStacks", None, err);
        assert!(matches!(err, AwsError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().contains("connection refused"));
    }
}
