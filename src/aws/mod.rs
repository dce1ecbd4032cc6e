//! The AWS edge: one SDK configuration, the clients made from it, and the few calls the tool
//! makes through them.
//!
//! Everything here is async and needs a tokio runtime, which only the commands that talk to AWS
//! create (see [`runtime`]); render and validate never load a config or start a runtime, so the
//! SDK costs them nothing. Against real AWS the SDK's standard chain finds credentials
//! (profiles, SSO, environment, `AWS_ENDPOINT_URL`); with `--local` every client talks to the
//! sandbox on 127.0.0.1 with dummy credentials. Service errors are interpreted in [`errors`].
//!
//! The HTTP client is the SDK's own (hyper and rustls, HTTPS to AWS, plain HTTP to the
//! sandbox), configured here with the `ring` crypto provider instead of the SDK's default
//! aws-lc: aws-lc is a C library whose static initialiser probes the CPU at the start of every
//! process, `ce --version` included, and `ring` is linked anyway (the SSO credential provider
//! uses it) and probes only when TLS is first used.

pub mod cloudformation;
pub mod errors;
pub mod local;
pub mod sandbox;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use aws_sdk_sts::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};

pub use cloudformation::{DeployedStack, ExportValue, Output, Parameter};
pub use errors::AwsError;

/// How many times a call is tried before its error is reported (throttling, 5xx, timeouts).
const MAX_ATTEMPTS: u32 = 4;
/// Connecting should be quick everywhere; a slow connect means the endpoint is wrong.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt of one call; CloudFormation answers reads in well under a second.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// One call including its retries.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);
/// The account moto reports for any credentials.
pub const SANDBOX_ACCOUNT: &str = "123456789012";

/// Where the clients send requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Real AWS through the SDK's standard credential chain and endpoint resolution.
    Account,
    /// The local sandbox at this endpoint (`http://127.0.0.1:<port>`), with dummy credentials.
    Sandbox {
        /// The sandbox's base URL.
        endpoint: String,
    },
}

/// The SDK's default HTTP client (rustls with the system's roots, connection settings and sleep
/// from each client's configuration, proxies from the environment) on the `ring` provider.
fn https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The SDK configuration every client is made from, and where it points.
#[derive(Clone, Debug)]
pub struct Aws {
    config: SdkConfig,
    target: Target,
}

impl Aws {
    /// Loads the configuration for `region` (the env file's), pointed at `target`.
    pub async fn connect(region: &str, target: Target) -> Self {
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .region(Region::new(region.to_owned()))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            );
        let loader = match &target {
            Target::Account => loader,
            // moto accepts any key; fixed ones keep a developer's real credentials out of it.
            Target::Sandbox { endpoint } => {
                loader
                    .endpoint_url(endpoint)
                    .credentials_provider(Credentials::new(
                        "testing",
                        "testing",
                        None,
                        None,
                        "ce-sandbox",
                    ))
            }
        };
        Aws {
            config: loader.load().await,
            target,
        }
    }

    /// Whether the clients talk to the local sandbox.
    pub fn is_local(&self) -> bool {
        matches!(self.target, Target::Sandbox { .. })
    }

    /// Where the clients send requests.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The shared SDK configuration, for services added later (S3 clients come from [`s3`],
    /// which sets what the sandbox needs).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// A CloudFormation client.
    pub fn cloudformation(&self) -> cloudformation::CloudFormation {
        cloudformation::CloudFormation::new(self)
    }

    /// An STS client.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    /// The account the credentials belong to (STS GetCallerIdentity).
    pub async fn caller_account(&self) -> Result<String, AwsError> {
        let identity = self
            .sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetCallerIdentity", None, e))?;
        identity.account.ok_or_else(|| AwsError::Other {
            operation: "GetCallerIdentity".into(),
            code: "no account".into(),
            message: "the answer named no account".into(),
        })
    }

    /// Checks that the credentials belong to `expected`; returns the account they belong to.
    pub async fn check_account(&self, expected: &str) -> Result<String, AccountError> {
        let actual = self.caller_account().await?;
        if actual == expected {
            Ok(actual)
        } else {
            Err(AccountError::Mismatch {
                expected: expected.to_owned(),
                actual,
            })
        }
    }

    /// The guard before anything mutating: checks the env file's `account_id` when it sets one.
    /// The sandbox is skipped, since moto is always account [`SANDBOX_ACCOUNT`].
    pub async fn guard_account(&self, account_id: Option<&str>) -> Result<(), AccountError> {
        match account_id {
            Some(expected) if !self.is_local() => self.check_account(expected).await.map(drop),
            _ => Ok(()),
        }
    }
}

/// Why the credentials may not be used for an env.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The credentials belong to another account than the env file's `account_id`.
    #[error(
        "the AWS credentials belong to account {actual}, but the env file's account_id is \
         {expected}; nothing was changed. Use credentials for account {expected} (another \
         AWS_PROFILE?), or correct account_id"
    )]
    Mismatch {
        /// The env file's `account_id`.
        expected: String,
        /// The account STS reported.
        actual: String,
    },
    /// STS could not be asked.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// The runtime for one command that talks to AWS: a single thread is plenty, since the work is
/// waiting on the network; requests still run concurrently on it.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Awaits a spawned task, passing on a panic inside it as a panic here.
pub async fn joined<T>(task: tokio::task::JoinHandle<T>) -> T {
    rethrown(task.await)
}

/// A finished task's value, or its panic resumed here. Tasks are never aborted, so a panic is
/// the only way one can fail.
pub fn rethrown<T>(finished: Result<T, tokio::task::JoinError>) -> T {
    match finished {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// An S3 client from the shared configuration: path-style addressing against the sandbox,
/// which has no per-bucket host names.
pub fn s3(aws: &Aws) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(aws.sdk_config())
        .force_path_style(aws.is_local())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Where `--local` (or its absence) sends requests: the sandbox, started if needed, or AWS.
/// Starting the sandbox says so on `printer`'s stderr.
pub fn target(
    local: bool,
    printer: &crate::printer::Printer,
) -> Result<Target, crate::aws::sandbox::SandboxError> {
    if !local {
        return Ok(Target::Account);
    }
    let paths = crate::aws::sandbox::Paths::from_env()?;
    let record = crate::aws::sandbox::ensure_running(&paths, printer)?;
    Ok(Target::Sandbox {
        endpoint: record.endpoint(),
    })
}
