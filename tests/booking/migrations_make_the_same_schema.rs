//! The two migration trees (SQLite for `silta dev`, PostgreSQL for a
//! cluster) must stay alike: both must make the same tables, with the same
//! columns, nullability, primary keys, unique constraints and foreign keys.
//! Column types differ by dialect and are not compared.

use std::collections::{BTreeMap, BTreeSet};

use silta_tests::booking::{Database, spawn_booking};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};

/// What one table looks like, apart from column types.
#[derive(Debug, Default, PartialEq, Eq)]
struct TableShape {
    /// Column → may it be NULL.
    columns: BTreeMap<String, bool>,
    primary_key: Vec<String>,
    uniques: BTreeSet<Vec<String>>,
    /// (columns, referenced table).
    foreign_keys: BTreeSet<(Vec<String>, String)>,
}

type Schema = BTreeMap<String, TableShape>;

fn list(text: &str) -> Vec<String> {
    text.split(',').map(str::to_owned).collect()
}

async fn strings(connection: &mut AnyConnection, sql: String) -> Vec<Vec<String>> {
    sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&mut *connection)
        .await
        .expect("a schema query")
        .iter()
        .map(|row| (0..row.len()).map(|index| row.try_get::<String, _>(index).expect("text")).collect())
        .collect()
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut connection = AnyConnection::connect(url).await.expect("connect to SQLite");
    let tables = strings(
        &mut connection,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'"
            .into(),
    )
    .await;
    let mut schema = Schema::new();
    for table in tables.into_iter().map(|row| row[0].clone()) {
        let mut shape = TableShape::default();
        let columns = strings(
            &mut connection,
            format!(
                "SELECT name, CAST(\"notnull\" AS TEXT), CAST(pk AS TEXT) FROM pragma_table_info('{table}') ORDER BY pk"
            ),
        )
        .await;
        for column in &columns {
            let in_key = column[2] != "0";
            shape.columns.insert(column[0].clone(), column[1] == "0" && !in_key);
            if in_key {
                shape.primary_key.push(column[0].clone());
            }
        }
        let indexes = strings(
            &mut connection,
            format!("SELECT name FROM pragma_index_list('{table}') WHERE \"unique\" = 1 AND origin != 'pk'"),
        )
        .await;
        for index in indexes {
            let columns = strings(
                &mut connection,
                format!(
                    "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info('{}') ORDER BY seqno)",
                    index[0]
                ),
            )
            .await;
            shape.uniques.insert(list(&columns[0][0]));
        }
        let foreign = strings(
            &mut connection,
            format!(
                "SELECT group_concat(\"from\", ','), \"table\" FROM \
                 (SELECT id, seq, \"from\", \"table\" FROM pragma_foreign_key_list('{table}') ORDER BY id, seq) GROUP BY id"
            ),
        )
        .await;
        for key in foreign {
            shape.foreign_keys.insert((list(&key[0]), key[1].clone()));
        }
        schema.insert(table, shape);
    }
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut connection = AnyConnection::connect(url).await.expect("connect to PostgreSQL");
    let tables = strings(
        &mut connection,
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_sqlx%'"
            .into(),
    )
    .await;
    let mut schema = Schema::new();
    for table in tables.into_iter().map(|row| row[0].clone()) {
        let mut shape = TableShape::default();
        for column in strings(
            &mut connection,
            format!(
                "SELECT column_name::text, is_nullable::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = '{table}'"
            ),
        )
        .await
        {
            shape.columns.insert(column[0].clone(), column[1] == "YES");
        }
        let indexes = strings(
            &mut connection,
            format!(
                "SELECT CASE WHEN ix.indisprimary THEN 'pk' ELSE 'unique' END, \
                 string_agg(a.attname::text, ',' ORDER BY k.ord) \
                 FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                 WHERE n.nspname = 'public' AND t.relname = '{table}' AND ix.indisunique \
                 GROUP BY ix.indexrelid, ix.indisprimary"
            ),
        )
        .await;
        for index in indexes {
            if index[0] == "pk" {
                let mut key = list(&index[1]);
                key.sort();
                shape.primary_key = key;
            } else {
                shape.uniques.insert(list(&index[1]));
            }
        }
        for key in strings(
            &mut connection,
            format!(
                "SELECT string_agg(a.attname::text, ',' ORDER BY k.ord), referenced.relname::text \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                 JOIN pg_class referenced ON referenced.oid = c.confrelid \
                 CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                 WHERE c.contype = 'f' AND t.relname = '{table}' GROUP BY c.oid, referenced.relname"
            ),
        )
        .await
        {
            shape.foreign_keys.insert((list(&key[0]), key[1].clone()));
        }
        schema.insert(table, shape);
    }
    schema
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgresql_migrations_make_the_same_schema() {
    let sqlite = spawn_booking(Database::Sqlite).await;
    let postgres = spawn_booking(Database::Postgres).await;
    let mut left = sqlite_schema(&sqlite.database_url).await;
    let right = postgres_schema(&postgres.database_url).await;
    for shape in left.values_mut() {
        shape.primary_key.sort();
    }
    assert!(left.len() > 10, "the migrations made the tables: {:?}", left.keys().collect::<Vec<_>>());
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        right.keys().collect::<Vec<_>>(),
        "both databases have the same tables"
    );
    for (table, shape) in &left {
        assert_eq!(Some(shape), right.get(table), "table {table}: SQLite (left) and PostgreSQL (right) differ");
    }
}
