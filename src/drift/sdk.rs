//! [`DriftApi`] through the AWS SDK, on the deploy engine's CloudFormation client.

use aws_sdk_cloudformation::types::{self as cfn, StackResourceDriftStatus};

use super::{
    Detection, DetectionStatus, DifferenceType, DriftApi, PropertyDrift, ResourceDrift,
    ResourceDriftStatus, StackDriftStatus, drift_value, property_path,
};
use crate::aws::AwsError;
use crate::deploy::api::StackApi;
use crate::deploy::sdk::Cfn;

impl DriftApi for Cfn {
    async fn stack_exists(&self, stack: &str) -> Result<bool, AwsError> {
        Ok(self.stack_status(stack).await?.is_some())
    }

    async fn detect_stack_drift(&self, stack: &str) -> Result<String, AwsError> {
        let out = self
            .client()
            .detect_stack_drift()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DetectStackDrift", Some(stack), e))?;
        Ok(out
            .stack_drift_detection_id()
            .unwrap_or_default()
            .to_owned())
    }

    async fn detection_status(&self, id: &str) -> Result<DetectionStatus, AwsError> {
        let out = self
            .client()
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeStackDriftDetectionStatus", None, e))?;
        Ok(DetectionStatus {
            // An unknown spelling is treated as finished, so waiting always ends.
            detection: out
                .detection_status()
                .and_then(|s| Detection::parse(s.as_str()))
                .unwrap_or(Detection::Failed),
            stack_drift: out
                .stack_drift_status()
                .and_then(|s| StackDriftStatus::parse(s.as_str())),
            reason: out.detection_status_reason().map(str::to_owned),
        })
    }

    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, AwsError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client()
                .describe_stack_resource_drifts()
                .stack_name(stack)
                .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
                .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeStackResourceDrifts", Some(stack), e))?;
            found.extend(out.stack_resource_drifts().iter().filter_map(resource));
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(found)
    }
}

fn resource(d: &cfn::StackResourceDrift) -> Option<ResourceDrift> {
    let status = match d.stack_resource_drift_status()? {
        StackResourceDriftStatus::Modified => ResourceDriftStatus::Modified,
        StackResourceDriftStatus::Deleted => ResourceDriftStatus::Deleted,
        _ => return None,
    };
    Some(ResourceDrift {
        logical_id: d.logical_resource_id()?.to_owned(),
        physical_id: d.physical_resource_id().map(str::to_owned),
        resource_type: d.resource_type().unwrap_or_default().to_owned(),
        status,
        properties: d
            .property_differences()
            .iter()
            .filter_map(|p| {
                let difference = DifferenceType::parse(p.difference_type()?.as_str())?;
                Some(PropertyDrift {
                    path: property_path(p.property_path()?),
                    difference,
                    expected: (difference != DifferenceType::Add)
                        .then(|| drift_value(p.expected_value()))
                        .flatten(),
                    actual: (difference != DifferenceType::Remove)
                        .then(|| drift_value(p.actual_value()))
                        .flatten(),
                })
            })
            .collect(),
    })
}
