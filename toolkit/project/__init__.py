"""The project: discover files, render them with Jinja, parse them with sqlglot, order them as a DAG."""
