//! Integration tests of the Airflow adapter against real Airflow 2.11.2 and 3.3.2 on the
//! local PostgreSQL (virtualenvs from `scripts/setup.d/50-airflow`).

mod live;
