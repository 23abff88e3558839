//! Real Apache Airflow upgraded by the engine, exactly as `changeover upgrade` drives it:
//! the bundles of `bundles/airflow/`, the process driver starting each version from its
//! virtualenv (`scripts/setup.d/50-airflow`), a fresh PostgreSQL metadata database, the
//! Airflow adapter for the scheduler.

mod harness;
mod upgrades;
