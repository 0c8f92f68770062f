//! Two-scale simulation of risk windows far longer than a request-level run.
//!
//! A 30-day window at 200 requests/s is half a billion requests: too many to
//! simulate one by one for thousands of campaigns. Most of that time is
//! healthy and statistically alike; what differs between campaigns is the
//! faults. So a campaign is simulated at two scales (see `docs/two-scale.md`):
//!
//! 1. **Fault timeline** ([`fault_timeline`]): every failure process over
//!    `[0, window]`, drawn exactly as the request-level [`FailureActor`](crate::actors::FailureActor)
//!    draws it (same functions, same random stream per process), or the one
//!    injection of a targeted campaign. Tens of events.
//! 2. **Episodes** ([`cut_episodes`], [`plan_episode`]): faults whose
//!    margins overlap are merged; each episode is simulated at request level
//!    with its faults replayed at their times, from a warm-up before the
//!    first onset to a settle margin after the last recovery. A stretch in
//!    which the set of active faults stays the same for longer than
//!    `transient + sample` is cut: its first `transient` and a `sample` after
//!    it are simulated, and the sample stands for the rest of the stretch.
//! 3. **Healthy baseline** ([`Baseline`]): one request-level sample of
//!    healthy time per variant (pooled by all its campaigns), scaled to each
//!    campaign's healthy time.
//! 4. **Library** ([`Library`], optional): pooled request-level episodes of
//!    isolated faults, per class of fault and duration, from which a
//!    campaign's isolated faults are composed instead of simulated. The
//!    runner builds one per variant; without it every episode is simulated
//!    per campaign.
//!
//! [`run_window`] combines them into the same [`CampaignResult`](crate::campaign::CampaignResult) a
//! request-level campaign gives. Requests are attributed by the time they
//! *start*, so every request belongs to exactly one of: an episode's counted
//! span, or healthy time.
//!
//! | file | stage |
//! | --- | --- |
//! | `timeline.rs` | 1: the fault timeline, and when each resource could serve |
//! | `episodes.rs` | 2: margins, cutting faults into episodes, planning an episode |
//! | `simulate.rs` | simulating a plan at request level; weighted tallies |
//! | `baseline.rs` | 3: the pooled healthy baseline, and building its library |
//! | `library.rs` | 4: pooled episodes of isolated faults, and composing from them |
//! | `run.rs` | one campaign over the window ([`run_window`]) |
//! | `work.rs` | what the method will simulate, estimated beforehand |
//!
//! What the simulations exercised is [`crate::usage::Usage`].

mod baseline;
mod episodes;
mod library;
mod run;
mod simulate;
#[cfg(test)]
pub(crate) mod testing;
mod timeline;
mod work;

pub use baseline::{Baseline, LEAD_QUANTILE};
pub use episodes::{
    Episode, EpisodePlan, Margins, PooledRest, cut_episodes, plan_episode, plan_episode_pooled,
};
pub use library::{LIBRARY_REPS, Library, LibraryChain, LibraryEntry, LibraryTask};
pub use run::{EpisodeReuse, KeptEpisode, Unchanged, WindowRun, run_window, run_window_with};
pub use simulate::{Counted, Tally, expected_arrivals, simulate_plan};
pub use timeline::{Timeline, fault_timeline, serving_logs};
pub use work::Work;
