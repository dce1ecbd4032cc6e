//! Fakes of the two narrow interfaces a release uses, shaped like the real answers: groups
//! whose nodes appear in service when the desired capacity rises (with the target health the
//! test chooses), a listener whose forward target a switch changes (or fails to), pointers,
//! preview rules and a claim log; and an HTTP probe answering per URL.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use super::{Answer, Claim, LiveChange, Platform, Probe, Sizes};
use crate::architecture::Colour;
use crate::ops::OpsError;
use crate::ops::builds::Build;
use crate::ops::instances::{Group, Node};
use crate::ops::statics::{StaticError, Uploaded};

/// How the fake's listener answers a switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchBehaviour {
    /// It moves.
    Works,
    /// AWS refuses; the listener stays.
    Fails,
    /// It moves, but the answer is lost (a timeout after the change).
    MovesButErrs,
}

/// The fake AWS side.
pub struct FakePlatform {
    pub state: RefCell<State>,
}

/// Everything the fake holds, for tests to set up and inspect.
pub struct State {
    pub live: Option<Colour>,
    pub groups: BTreeMap<Colour, Group>,
    pub pointers: BTreeMap<Colour, Option<String>>,
    /// Target health that new nodes get.
    pub new_node_health: String,
    pub switch: SwitchBehaviour,
    /// An operation name (`finish`, `set_sizes`, …) that fails.
    pub failing: Option<&'static str>,
    /// A colour whose `set_sizes` fails.
    pub sizes_fail_for: Option<Colour>,
    /// Every `set_sizes` fails while this colour is live (so only those after a switch to it).
    pub sizes_fail_once_live: Option<Colour>,
    pub previews: BTreeMap<String, (Colour, String)>,
    pub previews_opened: u32,
    pub claims: Vec<(LiveChange, Option<bool>)>,
    /// Every claim as it was finished.
    pub finished: Vec<Claim>,
    pub touches: u32,
    /// The env's stacks with their CloudFormation status (`None`: not deployed).
    pub stacks: Vec<(String, Option<String>)>,
    /// How many times the stacks were looked at for a running deploy.
    pub deploy_checks: u32,
    /// Every mutating call, in order.
    pub calls: Vec<String>,
    next_node: u32,
}

fn node(n: u32, health: &str) -> Node {
    Node {
        id: format!("i-{n:04}"),
        private_ip: Some(format!("10.0.0.{n}")),
        public_ip: None,
        state: "running".into(),
        instance_type: "m5.large".into(),
        lifecycle: "InService".into(),
        asg_health: "Healthy".into(),
        elb: Some(health.to_owned()),
        launched: None,
    }
}

impl FakePlatform {
    /// Blue live with `live_nodes` healthy nodes on `build`, green empty; groups max 4.
    pub fn new(live_nodes: u32, build: &str) -> Self {
        let group = |name: &str| Group {
            name: name.into(),
            min: 0,
            max: 4,
            desired: 0,
            grace: Duration::from_secs(240),
            nodes: vec![],
        };
        let mut state = State {
            live: Some(Colour::Blue),
            groups: BTreeMap::from([
                (Colour::Blue, group("ce-test-nodes")),
                (Colour::Green, group("ce-test-nodes-green")),
            ]),
            pointers: BTreeMap::from([
                (Colour::Blue, Some(build.to_owned())),
                (Colour::Green, None),
            ]),
            new_node_health: "healthy".into(),
            switch: SwitchBehaviour::Works,
            failing: None,
            sizes_fail_for: None,
            sizes_fail_once_live: None,
            previews: BTreeMap::new(),
            previews_opened: 0,
            claims: vec![],
            finished: vec![],
            touches: 0,
            stacks: ["network", "storage", "compute", "edge", "monitoring"]
                .map(|s| (format!("ce-test-{s}"), Some("UPDATE_COMPLETE".to_owned())))
                .into(),
            deploy_checks: 0,
            calls: vec![],
            next_node: 1,
        };
        state.resize(Colour::Blue, live_nodes);
        let blue = state.groups.get_mut(&Colour::Blue).unwrap();
        blue.min = 1;
        FakePlatform {
            state: RefCell::new(state),
        }
    }

    /// The group of a colour as it is now.
    pub fn group_now(&self, colour: Colour) -> Group {
        self.state.borrow().groups[&colour].clone()
    }

    fn fail(&self, operation: &'static str) -> Result<(), OpsError> {
        if self.state.borrow().failing == Some(operation) {
            return Err(OpsError::Refused(format!("{operation} failed (injected)")));
        }
        Ok(())
    }
}

impl State {
    fn resize(&mut self, colour: Colour, desired: u32) {
        let health = self.new_node_health.clone();
        let mut next = self.next_node;
        let group = self.groups.get_mut(&colour).unwrap();
        group.desired = desired;
        while group.nodes.len() < desired as usize {
            group.nodes.push(node(next, &health));
            next += 1;
        }
        group.nodes.truncate(desired as usize);
        self.next_node = next;
    }
}

impl Platform for FakePlatform {
    async fn group(&self, colour: Colour) -> Result<Group, OpsError> {
        Ok(self.group_now(colour))
    }

    async fn set_sizes(&self, colour: Colour, sizes: Sizes) -> Result<(), OpsError> {
        self.fail("set_sizes")?;
        let mut s = self.state.borrow_mut();
        if s.sizes_fail_for == Some(colour)
            || (s.sizes_fail_once_live.is_some() && s.sizes_fail_once_live == s.live)
        {
            return Err(OpsError::Refused(format!(
                "UpdateAutoScalingGroup {colour} failed (injected)"
            )));
        }
        s.calls.push(format!(
            "set_sizes {colour} min {:?} max {:?} desired {:?}",
            sizes.min, sizes.max, sizes.desired
        ));
        if let Some(desired) = sizes.desired {
            s.resize(colour, desired);
        }
        let group = s.groups.get_mut(&colour).unwrap();
        if let Some(min) = sizes.min {
            group.min = min;
        }
        if let Some(max) = sizes.max {
            group.max = max;
        }
        Ok(())
    }

    async fn live(&self) -> Result<Option<Colour>, OpsError> {
        Ok(self.state.borrow().live)
    }

    async fn switch(&self, colour: Colour) -> Result<(), OpsError> {
        let mut s = self.state.borrow_mut();
        s.calls.push(format!("switch {colour}"));
        match s.switch {
            SwitchBehaviour::Works => {
                s.live = Some(colour);
                Ok(())
            }
            SwitchBehaviour::Fails => Err(OpsError::Refused(
                "ModifyListener: ValidationError: target group is not attached".into(),
            )),
            SwitchBehaviour::MovesButErrs => {
                s.live = Some(colour);
                Err(OpsError::Refused("ModifyListener: timed out".into()))
            }
        }
    }

    async fn open_preview(&self, colour: Colour, token: &str) -> Result<String, OpsError> {
        self.fail("open_preview")?;
        let mut s = self.state.borrow_mut();
        s.previews_opened += 1;
        let handle = format!("rule/{}", s.previews_opened);
        s.calls.push(format!("open_preview {colour}"));
        s.previews
            .insert(handle.clone(), (colour, token.to_owned()));
        Ok(handle)
    }

    async fn close_preview(&self, handle: &str) -> Result<(), OpsError> {
        let mut s = self.state.borrow_mut();
        s.calls.push("close_preview".into());
        s.previews.remove(handle);
        Ok(())
    }

    async fn pointer(&self, colour: Colour) -> Result<Option<String>, OpsError> {
        Ok(self.state.borrow().pointers[&colour].clone())
    }

    async fn set_pointer(&self, colour: Colour, key: Option<&str>) -> Result<(), OpsError> {
        self.fail("set_pointer")?;
        let mut s = self.state.borrow_mut();
        s.calls.push(format!("set_pointer {colour} {key:?}"));
        s.pointers.insert(colour, key.map(str::to_owned));
        Ok(())
    }

    async fn upload_static(&self, build: &Build) -> Result<Uploaded, OpsError> {
        if self.state.borrow().failing == Some("upload_static") {
            return Err(OpsError::Static(StaticError::Conflict {
                key: "static/main.js".into(),
                existing: "aaa".into(),
                new: "bbb".into(),
            }));
        }
        self.state
            .borrow_mut()
            .calls
            .push(format!("upload_static {}", build.key));
        Ok(Uploaded {
            uploaded: 2,
            present: 0,
        })
    }

    async fn claim(&self, change: &LiveChange) -> Result<Claim, OpsError> {
        self.fail("claim")?;
        let mut s = self.state.borrow_mut();
        if s.claims.iter().any(|(_, done)| done.is_none()) {
            return Err(OpsError::Refused("another change is under way".into()));
        }
        s.claims.push((change.clone(), None));
        Ok(Claim {
            change: change.clone(),
            token: s.claims.len().to_string(),
            scaled_up: None,
        })
    }

    async fn touch(&self, _claim: &Claim) -> Result<(), OpsError> {
        self.state.borrow_mut().touches += 1;
        Ok(())
    }

    async fn finish(&self, claim: &Claim, done: bool) -> Result<(), OpsError> {
        self.fail("finish")?;
        let mut s = self.state.borrow_mut();
        let i: usize = claim.token.parse().unwrap();
        s.claims[i - 1].1 = Some(done);
        s.finished.push(claim.clone());
        Ok(())
    }

    async fn refuse_during_deploy(&self) -> Result<(), OpsError> {
        let mut s = self.state.borrow_mut();
        s.deploy_checks += 1;
        let statuses = s.stacks.iter().map(|(n, st)| (n.as_str(), st.as_deref()));
        match super::deploy_running(statuses) {
            Some((stack, status)) => Err(OpsError::Deploying {
                env: "test".into(),
                stack: stack.to_owned(),
                status: status.to_owned(),
            }),
            None => Ok(()),
        }
    }
}

/// One request the fake probe was sent: the URL and the extra headers.
pub type Asked = (String, Vec<(String, String)>);

/// The fake HTTP side: answers by URL (200 for any other), and remembers what it was asked.
#[derive(Default)]
pub struct FakeProbe {
    pub answers: BTreeMap<String, Result<Answer, String>>,
    pub asked: RefCell<Vec<Asked>>,
}

impl FakeProbe {
    /// Answers `url` with `status` and `body`.
    pub fn answer(mut self, url: &str, status: u16, body: &str) -> Self {
        self.answers.insert(
            url.to_owned(),
            Ok(Answer {
                status,
                body: body.to_owned(),
            }),
        );
        self
    }

    /// `url` gets no answer.
    pub fn silent(mut self, url: &str, why: &str) -> Self {
        self.answers.insert(url.to_owned(), Err(why.to_owned()));
        self
    }
}

impl Probe for FakeProbe {
    async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        _timeout: Duration,
    ) -> Result<Answer, String> {
        self.asked.borrow_mut().push((
            url.to_owned(),
            headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ));
        self.answers.get(url).cloned().unwrap_or(Ok(Answer {
            status: 200,
            body: "Everything is awesome".into(),
        }))
    }
}
