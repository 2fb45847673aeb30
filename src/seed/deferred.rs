//! What the bulk load takes off its tables and puts back, kept in
//! `seed_deferred` (migration 0026) so that an unfinished seed can be
//! repaired: indexes, keys, foreign keys and triggers of posts, follows,
//! likes and notifications (and foreign keys into them), and autovacuum on
//! them and users.
//!
//! Keys are put back as a unique index first (`CREATE INDEX` takes a SHARE
//! lock, so readers such as the notification derivation go on) and attached
//! at the end (`ADD CONSTRAINT … USING INDEX`, instant); foreign keys are
//! added `NOT VALID` and validated separately (a validation locks only its
//! own table against writes, so validations of different tables run at once).

use sqlx::{PgConnection, PgExecutor};

/// Kinds of deferred object, in the order they are put back.
pub const INDEX: i16 = 0;
pub const KEY: i16 = 1;
pub const FOREIGN_KEY: i16 = 2;
pub const VALIDATION: i16 = 3;
pub const TRIGGER: i16 = 4;

/// One statement that puts an object back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Deferred {
    pub step: i16,
    /// The table it alters.
    pub tbl: String,
    pub redo: String,
}

/// Whether a seed took objects off and did not put them all back.
pub async fn unfinished(db: impl PgExecutor<'_>) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM seed_deferred)")
        .fetch_one(db)
        .await
}

/// Records, then takes off, the objects of the bulk tables (an empty
/// `seed_deferred` expected). For the caller's transaction.
pub async fn take_off(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(RECORD).execute(&mut *conn).await?;
    sqlx::raw_sql(UNDO).execute(conn).await?;
    Ok(())
}

/// What is still to put back, in order.
pub async fn pending(db: impl PgExecutor<'_>) -> Result<Vec<Deferred>, sqlx::Error> {
    sqlx::query_as("SELECT step, tbl, redo FROM seed_deferred ORDER BY step, ord")
        .fetch_all(db)
        .await
}

/// Repairs an unfinished seed: empties every table it loaded (and those
/// whose foreign keys into them were off), takes off what was put back
/// already and puts everything back on the empty tables. For the caller's
/// transaction.
pub async fn repair(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(REPAIR).execute(conn).await?;
    Ok(())
}

/// The objects to take off: plain indexes and the unique indexes behind
/// keys, the keys, foreign keys (to add `NOT VALID`, then validate) and
/// enabled user triggers; and autovacuum, which would work on the tables
/// while they fill (on cores the seed uses, and locking out the key
/// attachment for a second at a time) when the seed vacuums them at the end.
const RECORD: &str = r#"
INSERT INTO seed_deferred (step, tbl, undo, redo)
SELECT 0, i.indrelid::regclass::text, format('DROP INDEX IF EXISTS %s', i.indexrelid::regclass),
       pg_get_indexdef(i.indexrelid)
  FROM pg_index i
 WHERE i.indrelid = ANY ('{posts,follows,likes,notifications}'::regclass[])
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                    WHERE k.conindid = i.indexrelid
                      AND (k.contype = 'x' OR (k.contype IN ('p', 'u') AND k.condeferrable)))
UNION ALL
SELECT 1, c.conrelid::regclass::text,
       format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', c.conrelid::regclass, c.conname),
       CASE WHEN c.contype IN ('p', 'u') AND NOT c.condeferrable
            THEN format('ALTER TABLE %s ADD CONSTRAINT %I %s USING INDEX %I', c.conrelid::regclass,
                        c.conname, CASE c.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END,
                        (SELECT relname FROM pg_class WHERE oid = c.conindid))
            ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                        pg_get_constraintdef(c.oid)) END
  FROM pg_constraint c
 WHERE c.contype IN ('p', 'u', 'x') AND c.conrelid = ANY ('{posts,follows,likes,notifications}'::regclass[])
UNION ALL
SELECT s.step, c.conrelid::regclass::text, s.undo, s.redo
  FROM pg_constraint c
 CROSS JOIN LATERAL (VALUES
       (2, format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', c.conrelid::regclass, c.conname),
        format('ALTER TABLE %s ADD CONSTRAINT %I %s%s', c.conrelid::regclass, c.conname,
               pg_get_constraintdef(c.oid), CASE WHEN c.convalidated THEN ' NOT VALID' ELSE '' END)),
       (3, NULL, format('ALTER TABLE %s VALIDATE CONSTRAINT %I', c.conrelid::regclass, c.conname))
       ) s (step, undo, redo)
 WHERE c.contype = 'f' AND (c.conrelid = ANY ('{posts,follows,likes,notifications}'::regclass[]) OR c.confrelid = ANY ('{posts,follows,likes,notifications}'::regclass[]))
   AND (s.step = 2 OR c.convalidated)
UNION ALL
SELECT 4, t.tgrelid::regclass::text,
       format('ALTER TABLE %s DISABLE TRIGGER %I', t.tgrelid::regclass, t.tgname),
       format('ALTER TABLE %s ENABLE TRIGGER %I', t.tgrelid::regclass, t.tgname)
  FROM pg_trigger t
 WHERE NOT t.tgisinternal AND t.tgenabled = 'O' AND t.tgrelid = ANY ('{posts,follows,likes,notifications}'::regclass[])
UNION ALL
SELECT 4, c.oid::regclass::text,
       format('ALTER TABLE %s SET (autovacuum_enabled = off)', c.oid::regclass),
       -- A table's own setting: all its options again, which puts them back in order.
       CASE WHEN EXISTS (SELECT 1 FROM unnest(c.reloptions) o WHERE o LIKE 'autovacuum\_enabled=%')
            THEN format('ALTER TABLE %s SET (%s)', c.oid::regclass, array_to_string(c.reloptions, ', '))
            ELSE format('ALTER TABLE %s RESET (autovacuum_enabled)', c.oid::regclass) END
  FROM pg_class c
 WHERE c.oid = ANY ('{users,posts,follows,likes,notifications}'::regclass[]);
"#;

/// Takes off every recorded object that is there (triggers, foreign keys,
/// keys, indexes: the reverse order).
const UNDO: &str = r#"
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT undo FROM seed_deferred WHERE undo IS NOT NULL ORDER BY step DESC, ord DESC LOOP
        EXECUTE r.undo;
    END LOOP;
END $$;
"#;

const REPAIR: &str = r#"
DO $$
DECLARE r record;
BEGIN
    EXECUTE (SELECT 'TRUNCATE users, refresh_tokens, home_feed, '
                    || string_agg(DISTINCT tbl, ', ') || ' RESTART IDENTITY CASCADE'
               FROM seed_deferred);
    FOR r IN SELECT undo FROM seed_deferred WHERE undo IS NOT NULL ORDER BY step DESC, ord DESC LOOP
        EXECUTE r.undo;
    END LOOP;
    FOR r IN SELECT redo FROM seed_deferred ORDER BY step, ord LOOP
        EXECUTE r.redo;
    END LOOP;
    DELETE FROM seed_deferred;
END $$;
"#;
