"""SQL models: a dbt-like folder of SELECT files that become DuckDB views and tables. Plain Python, no Dagster.

Layout: `<root>/models/<schema>/<name>.sql` (the folder is the schema, the file the relation), property files
(`models.yml`, `schema.yml`, `models/**/*.yml`) with descriptions, tests, `config:` and `sources:` as dbt writes
them, optional `dbt_project.yml` (`vars:`), and singular tests in `<root>/tests/*.sql`.

- `project`: loading a project (settings, rendering, parsing, ordering; mistakes recorded, never raised)
- `yaml_files`: dbt_project.yml and the property files, with line numbers
- `rendering`: Jinja (`ref`, `source`, `config`, `var`, `is_incremental`, `this`) and the SQL parse check
- `graph`: run order, cycles, `model+` selection
- `materializations`: building view / table / incremental / partition models on DuckDB
- `data_tests`: generic and singular tests, compiled and run
"""

from podcast_assets.core.sql_models.data_tests import TestRun, compile_test, run_test
from podcast_assets.core.sql_models.graph import downstream_of, select_models, upstream_of
from podcast_assets.core.sql_models.materializations import (
    ModelRun,
    compile_model,
    describe_columns,
    materialize_model,
    relation_columns,
)
from podcast_assets.core.sql_models.nodes import (
    GENERIC_TESTS,
    MATERIALIZATIONS,
    PARTITION_COLUMN,
    DataTest,
    ModelKey,
    PartitionWindow,
    SourceTable,
    SqlModel,
    SqlModelError,
    SqlProject,
)
from podcast_assets.core.sql_models.project import load_project
from podcast_assets.core.sql_models.yaml_files import parse_vars

__all__ = [
    "GENERIC_TESTS",
    "MATERIALIZATIONS",
    "PARTITION_COLUMN",
    "DataTest",
    "ModelKey",
    "ModelRun",
    "PartitionWindow",
    "SourceTable",
    "SqlModel",
    "SqlModelError",
    "SqlProject",
    "TestRun",
    "compile_model",
    "compile_test",
    "describe_columns",
    "downstream_of",
    "load_project",
    "materialize_model",
    "parse_vars",
    "relation_columns",
    "run_test",
    "select_models",
    "upstream_of",
]
