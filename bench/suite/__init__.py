"""`make bench`'s parts; bench/run.py runs them in order and bench/report.py writes the
report. Imports flow downward in this list, and never into bench/run.py or report.py:

* knobs: the environment knobs, the run's id and keys, the log;
* servers: gunicorn servers, wrk and its figures, nginx in front, the PostgreSQL database;
* checks: the app in process (migrations) and the zero-lost checks of every step's rows;
* calibration: the gunicorn settings the run uses;
* ratio_steps: page GET, sign, mail, confirm and scale-out, each beside the ceiling;
* data_steps: seeding, CSV export, the delivery pack, latency at scale, the log at scale;
* report_figures, report_targets, report_tables: the report's figures, plot and tables.

They import the bench's tools beside them (mail_flow, export_csv, tlog, tlog_push) as
top-level modules, and seed from helpers/: bench/ is on sys.path.
"""
