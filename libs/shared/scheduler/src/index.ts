export { JobDeferred, JobScheduler, type JobHandler, type JobSchedulerOptions, type ScheduledJob } from './job-scheduler.js';
export { schedulerTablesSql } from './scheduler-tables.js';
