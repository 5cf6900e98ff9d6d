//! The analysis half of the aggregator: metric jobs that turn hits into result tables
//! (sessions and page effectiveness, person activities, mailing response), the scheduler that
//! runs them from a watermark, funnels, the engagement score, and the API that serves it all.

pub mod activity_cache;
pub mod api;
pub mod cursor;
mod day_parts;
mod day_plan;
pub mod funnel;
pub mod funnel_cache;
pub mod funnel_spans;
mod funnel_steps;
pub mod funnel_walks;
pub mod goals;
pub mod jobs;
pub mod queries;
pub mod range;
pub mod scheduler;
pub mod score;
pub mod spans;
pub mod telemetry;
