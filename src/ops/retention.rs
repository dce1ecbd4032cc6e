//! `builds rm-old`: which builds may go. A build stays when any env sharing the bucket can
//! still boot it or go back to it: an env's pointer, either colour's pointer, one of its last
//! N releases (and the build each replaced) in the versions log. The N newest builds of each
//! branch stay too, so a build CI has just uploaded is never deleted before anyone released
//! it. Everything else goes: tarball, hash and static tarball, and the files a release put in
//! the static bucket for it that no build which stays uses (see
//! [`statics::orphans`](super::statics::orphans)).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::builds::{Build, sort_newest_first};
use super::versionslog::{ChangeState, Entry};

/// What one env keeps, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Kept {
    /// Build key → the reasons it stays (`staging green pointer`, `prod release 2024-…`).
    pub reasons: BTreeMap<String, Vec<String>>,
}

impl Kept {
    /// Keeps `key` for `why`.
    pub fn keep(&mut self, key: Option<&str>, why: impl Into<String>) {
        if let Some(key) = key.filter(|k| !k.is_empty()) {
            self.reasons
                .entry(key.to_owned())
                .or_default()
                .push(why.into());
        }
    }

    /// Keeps what the last `n` done changes of `env`'s log set or replaced.
    pub fn keep_releases(&mut self, env: &str, history: &[Entry], n: usize) {
        let done = history
            .iter()
            .filter(|e| e.state == ChangeState::Done)
            .take(n);
        for entry in done {
            self.keep(Some(&entry.to), format!("{env} release {}", entry.at));
            self.keep(
                entry.from.as_deref(),
                format!("{env} rolled back to from {}", entry.at),
            );
        }
    }
}

/// One build to delete, with its objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Doomed {
    /// The build.
    pub build: Build,
    /// Every object of it in the builds bucket: tarball, hash, static tarball.
    pub objects: Vec<String>,
    /// Its files in static buckets that no build which stays uses.
    pub static_files: Vec<StaticObject>,
}

/// A file in a static bucket.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct StaticObject {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
}

/// The builds that go: those `kept` does not name, beyond the `newest` newest of their branch.
pub fn select(builds: &[Build], kept: &Kept, newest: usize) -> Vec<Doomed> {
    let mut by_branch: BTreeMap<&str, Vec<&Build>> = BTreeMap::new();
    for build in builds {
        by_branch.entry(&build.branch).or_default().push(build);
    }
    let mut recent: BTreeSet<&str> = BTreeSet::new();
    for list in by_branch.values() {
        let mut sorted: Vec<Build> = list.iter().map(|b| (*b).clone()).collect();
        sort_newest_first(&mut sorted);
        for b in sorted.iter().take(newest) {
            if let Some(found) = list.iter().find(|x| x.key == b.key) {
                recent.insert(&found.key);
            }
        }
    }
    let mut doomed: Vec<Doomed> = builds
        .iter()
        .filter(|b| !kept.reasons.contains_key(&b.key) && !recent.contains(b.key.as_str()))
        .map(|b| {
            let mut objects = vec![b.key.clone(), b.info_key()];
            objects.extend(b.static_key.clone());
            Doomed {
                build: b.clone(),
                objects,
                static_files: Vec::new(),
            }
        })
        .collect();
    doomed.sort_by(|a, b| a.build.key.cmp(&b.build.key));
    doomed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::time::Timestamp;

    fn build(branch: &str, version: u32) -> Build {
        Build {
            branch: branch.into(),
            version: version.to_string(),
            key: format!("dist/{branch}/{version}.tar.xz"),
            size: 1,
            static_key: Some(format!("dist/{branch}/{version}.static.tar.xz")),
            has_info: true,
            hash: None,
        }
    }

    fn entry(to: u32, from: Option<u32>, state: ChangeState) -> Entry {
        Entry {
            at: Timestamp(i64::from(to)),
            seq: 0,
            to: format!("dist/main/{to}.tar.xz"),
            from: from.map(|f| format!("dist/main/{f}.tar.xz")),
            by: "x".into(),
            principal: None,
            state,
            colour: None,
            switch: false,
            scaled_up: None,
        }
    }

    fn keys(doomed: &[Doomed]) -> Vec<&str> {
        doomed.iter().map(|d| d.build.version.as_str()).collect()
    }

    #[test]
    fn pointers_and_the_newest_of_each_branch_stay_everything_else_goes_with_all_its_objects() {
        let builds: Vec<Build> = (1..=6).map(|v| build("main", v)).collect();
        let mut kept = Kept::default();
        kept.keep(Some("dist/main/2.tar.xz"), "prod blue pointer");
        let doomed = select(&builds, &kept, 2);
        assert_eq!(keys(&doomed), ["1", "3", "4"]);
        assert_eq!(
            doomed[0].objects,
            [
                "dist/main/1.tar.xz",
                "dist/main/1.txt",
                "dist/main/1.static.tar.xz"
            ]
        );
    }

    #[test]
    fn the_last_releases_and_what_they_replaced_stay_but_failed_ones_do_not_count() {
        let builds: Vec<Build> = (1..=8).map(|v| build("main", v)).collect();
        let history = [
            entry(7, Some(5), ChangeState::Failed),
            entry(6, Some(4), ChangeState::Done),
            entry(4, Some(3), ChangeState::Done),
            entry(3, Some(1), ChangeState::Done),
        ];
        let mut kept = Kept::default();
        kept.keep_releases("staging", &history, 2);
        let doomed = select(&builds, &kept, 1);
        // Kept: 8 (newest), 6 and 4 (released), 3 (replaced by 4), 4 (replaced by 6).
        assert_eq!(keys(&doomed), ["1", "2", "5", "7"]);
    }

    #[test]
    fn branches_keep_their_own_newest() {
        let builds = vec![build("main", 10), build("main", 11), build("feature/x", 3)];
        let doomed = select(&builds, &Kept::default(), 1);
        assert_eq!(keys(&doomed), ["10"]);
    }
}
