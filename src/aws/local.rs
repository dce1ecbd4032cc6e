//! What `--local` changes about an env before it is rendered for the sandbox.
//!
//! Certificates belong to an account: the ARNs in an env file name the real account's ACM
//! certificates, which the sandbox does not hold, and its load balancer refuses a listener on a
//! certificate it does not know. So against the sandbox every certificate ARN of the env is
//! replaced by one the sandbox's ACM holds for the env's primary name: requested the first
//! time, found again by that name afterwards, so every render for the sandbox is the same.
//! Nothing else changes; the templates stay exactly what real CloudFormation would get.

use aws_sdk_acm::types::CertificateStatus;

use super::errors::AwsError;
use super::{Aws, Target};
use crate::config::Env;

/// The env as it is deployed where `aws` points: unchanged for an account, with sandbox-held
/// certificates for the sandbox.
pub async fn env_for_target(mut env: Env, aws: &Aws) -> Result<Env, AwsError> {
    if !matches!(aws.target(), Target::Sandbox { .. }) {
        return Ok(env);
    }
    let arn = sandbox_certificate(aws, &env).await?;
    env.file.domain.certificate_arn = arn.clone();
    env.file.domain.alb_certificate_arn = Some(arn);
    Ok(env)
}

/// The ARN of the sandbox's certificate for the env's primary name, requesting one if needed.
async fn sandbox_certificate(aws: &Aws, env: &Env) -> Result<String, AwsError> {
    let acm = aws_sdk_acm::Client::new(aws.sdk_config());
    let Some(primary) = env.file.domain.aliases.first() else {
        return Err(AwsError::Other {
            operation: "RequestCertificate".into(),
            code: "no domain".into(),
            message: format!("env {} names no domain alias", env.name),
        });
    };
    // The first certificate listed for the name is the one every run uses: when two runs
    // request one at once (or a killed run's request lands late), they still agree.
    if let Some(arn) = first_certificate(&acm, primary).await? {
        return Ok(arn);
    }
    let mut request = acm.request_certificate().domain_name(primary);
    for alias in env.file.domain.aliases.iter().skip(1) {
        request = request.subject_alternative_names(alias);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("RequestCertificate", None, e))?;
    let requested = answer
        .certificate_arn()
        .map(str::to_owned)
        .ok_or_else(|| AwsError::Other {
            operation: "RequestCertificate".into(),
            code: "no ARN".into(),
            message: "the sandbox issued a certificate without an ARN".into(),
        })?;
    Ok(first_certificate(&acm, primary).await?.unwrap_or(requested))
}

/// The first certificate the sandbox lists for `domain` (issued or pending).
async fn first_certificate(
    acm: &aws_sdk_acm::Client,
    domain: &str,
) -> Result<Option<String>, AwsError> {
    let mut pages = acm
        .list_certificates()
        .certificate_statuses(CertificateStatus::Issued)
        .certificate_statuses(CertificateStatus::PendingValidation)
        .into_paginator()
        .items()
        .send();
    while let Some(summary) = pages.next().await {
        let summary = summary.map_err(|e| AwsError::from_sdk("ListCertificates", None, e))?;
        if summary.domain_name() == Some(domain)
            && let Some(arn) = summary.certificate_arn()
        {
            return Ok(Some(arn.to_owned()));
        }
    }
    Ok(None)
}
