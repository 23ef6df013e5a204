import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations live in code rather than a directory so the compiled gateway carries them without
 * depending on file layout inside an image.
 */
const MIGRATIONS: Migration[] = [
  {
    name: '0001_buckets_objects',
    async up(knex) {
      await knex.schema.createTable('buckets', (t) => {
        t.bigIncrements('id').primary();
        t.text('name').notNullable().unique();
        t.text('owner').notNullable().index();
        t.text('region').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
      await knex.schema.createTable('objects', (t) => {
        t.bigInteger('bucket_id').notNullable().references('buckets.id').onDelete('RESTRICT');
        // bytea, not text: listing order must be UTF-8 byte order whatever the database collation.
        t.binary('key').notNullable();
        t.bigInteger('size').notNullable();
        t.text('etag').notNullable();
        t.timestamp('last_modified', { useTz: true }).notNullable();
        t.text('content_type');
        t.text('content_encoding');
        t.text('content_disposition');
        t.text('content_language');
        t.text('cache_control');
        t.text('expires');
        t.jsonb('user_metadata').notNullable().defaultTo('{}');
        t.jsonb('checksums').notNullable().defaultTo('{}');
        t.text('blob_id');
        t.binary('inline_data');
        t.binary('wrapped_key').notNullable();
        t.integer('segment_size').notNullable();
        t.primary(['bucket_id', 'key']);
      });
      await knex.raw(
        'ALTER TABLE objects ADD CONSTRAINT objects_one_location CHECK ((blob_id IS NULL) <> (inline_data IS NULL))',
      );
      await knex.raw('CREATE UNIQUE INDEX objects_blob_id ON objects (blob_id) WHERE blob_id IS NOT NULL');
      // Blobs whose metadata reference was dropped in a committed transaction; removed after commit.
      await knex.schema.createTable('blob_trash', (t) => {
        t.text('blob_id').primary();
        t.timestamp('queued_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
    },
    async down(knex) {
      await knex.schema.dropTable('blob_trash');
      await knex.schema.dropTable('objects');
      await knex.schema.dropTable('buckets');
    },
  },
  {
    name: '0002_multipart',
    async up(knex) {
      // A multipart object keeps its parts' sealed blobs as they are: `layout` lists them in order.
      await knex.schema.alterTable('objects', (t) => {
        t.jsonb('layout');
      });
      await knex.raw('ALTER TABLE objects DROP CONSTRAINT objects_one_location');
      await knex.raw(
        'ALTER TABLE objects ADD CONSTRAINT objects_one_location CHECK (num_nonnulls(blob_id, inline_data, layout) = 1)',
      );
      await knex.schema.createTable('uploads', (t) => {
        t.text('upload_id').primary();
        t.bigInteger('bucket_id').notNullable().references('buckets.id').onDelete('RESTRICT');
        t.binary('key').notNullable();
        t.text('initiator').notNullable();
        t.timestamp('initiated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.text('content_type');
        t.text('content_encoding');
        t.text('content_disposition');
        t.text('content_language');
        t.text('cache_control');
        t.text('expires');
        t.jsonb('user_metadata').notNullable().defaultTo('{}');
        t.text('checksum_algorithm');
        t.text('checksum_type');
        t.index(['bucket_id', 'key']);
      });
      await knex.schema.createTable('parts', (t) => {
        t.text('upload_id').notNullable().references('uploads.upload_id').onDelete('CASCADE');
        t.integer('part_number').notNullable();
        t.bigInteger('size').notNullable();
        t.text('etag').notNullable();
        t.text('checksum');
        t.text('blob_id').notNullable().unique();
        t.binary('wrapped_key').notNullable();
        t.integer('segment_size').notNullable();
        t.timestamp('last_modified', { useTz: true }).notNullable();
        t.primary(['upload_id', 'part_number']);
      });
    },
    async down(knex) {
      await knex.schema.dropTable('parts');
      await knex.schema.dropTable('uploads');
      await knex.raw('ALTER TABLE objects DROP CONSTRAINT objects_one_location');
      await knex.schema.alterTable('objects', (t) => t.dropColumn('layout'));
    },
  },
  {
    name: '0003_tags_cors',
    async up(knex) {
      await knex.schema.alterTable('objects', (t) => {
        t.jsonb('tags').notNullable().defaultTo('{}');
        // COMPOSITE or FULL_OBJECT for multipart objects' checksums; plain PUTs are always FULL_OBJECT.
        t.text('checksum_type');
      });
      await knex.schema.alterTable('uploads', (t) => t.jsonb('tags').notNullable().defaultTo('{}'));
      await knex.schema.alterTable('buckets', (t) => {
        t.jsonb('tags');
        t.jsonb('cors');
      });
    },
    async down(knex) {
      await knex.schema.alterTable('buckets', (t) => {
        t.dropColumn('cors');
        t.dropColumn('tags');
      });
      await knex.schema.alterTable('uploads', (t) => t.dropColumn('tags'));
      await knex.schema.alterTable('objects', (t) => {
        t.dropColumn('checksum_type');
        t.dropColumn('tags');
      });
    },
  },
  {
    name: '0004_management',
    async up(knex) {
      // S3 credentials managed at runtime; secrets are sealed under the master key (SigV4 needs them back).
      await knex.schema.createTable('credentials', (t) => {
        t.bigIncrements('id').primary();
        t.text('access_key').notNullable().unique();
        t.binary('secret_sealed').notNullable();
        t.text('user_name');
        t.boolean('is_active').notNullable().defaultTo(true);
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
      // Access keys deleted through the API, so the credentials file does not bring them back at restart.
      await knex.schema.createTable('deleted_access_keys', (t) => {
        t.text('access_key').primary();
        t.timestamp('deleted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
      await knex.schema.createTable('admins', (t) => {
        t.bigIncrements('id').primary();
        t.text('username').notNullable().unique();
        t.text('password_hash').notNullable();
        t.binary('totp_secret_sealed');
        t.boolean('totp_enabled').notNullable().defaultTo(false);
        t.boolean('is_active').notNullable().defaultTo(true);
        t.integer('failed_logins').notNullable().defaultTo(0);
        t.timestamp('locked_until', { useTz: true });
        t.bigInteger('last_totp_step');
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
      await knex.schema.createTable('api_keys', (t) => {
        t.bigIncrements('id').primary();
        t.bigInteger('admin_id').notNullable().references('admins.id').onDelete('CASCADE');
        t.binary('key_sha256').notNullable().unique();
        t.text('label').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp('last_used_at', { useTz: true });
      });
      await knex.schema.createTable('admin_sessions', (t) => {
        t.binary('token_sha256').primary();
        t.bigInteger('admin_id').notNullable().references('admins.id').onDelete('CASCADE');
        t.text('csrf_token').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp('expires_at', { useTz: true }).notNullable().index();
      });
      await knex.schema.createTable('presigned_urls', (t) => {
        t.bigIncrements('id').primary();
        t.text('bucket_name').notNullable();
        t.text('object_key').notNullable();
        t.text('method').notNullable();
        t.text('access_key').notNullable();
        t.bigInteger('created_by').references('admins.id').onDelete('SET NULL');
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp('expires_at', { useTz: true }).notNullable().index();
      });
    },
    async down(knex) {
      for (const t of [
        'presigned_urls',
        'admin_sessions',
        'api_keys',
        'admins',
        'deleted_access_keys',
        'credentials',
      ])
        await knex.schema.dropTable(t);
    },
  },
  {
    name: '0005_login_throttle',
    async up(knex) {
      // Lockout is kept per name tried, known or not, so a locked admin and a name that does not exist look alike.
      await knex.schema.createTable('login_throttle', (t) => {
        t.text('username').primary();
        t.integer('failures').notNullable();
        t.timestamp('locked_until', { useTz: true });
        t.timestamp('last_attempt_at', { useTz: true }).notNullable().index();
      });
      await knex.schema.alterTable('admins', (t) => {
        t.dropColumn('failed_logins');
        t.dropColumn('locked_until');
      });
    },
    async down(knex) {
      await knex.schema.alterTable('admins', (t) => {
        t.integer('failed_logins').notNullable().defaultTo(0);
        t.timestamp('locked_until', { useTz: true });
      });
      await knex.schema.dropTable('login_throttle');
    },
  },
  {
    name: '0006_completed_uploads',
    async up(knex) {
      // What Complete answered, kept a day, so a client retrying after a timeout gets the same answer.
      await knex.schema.createTable('completed_uploads', (t) => {
        t.text('upload_id').primary();
        t.bigInteger('bucket_id').notNullable();
        t.binary('key').notNullable();
        t.text('etag').notNullable();
        t.bigInteger('size').notNullable();
        t.jsonb('checksums').notNullable();
        t.text('checksum_type');
        t.integer('parts_count').notNullable();
        t.timestamp('completed_at', { useTz: true }).notNullable().index();
      });
    },
    async down(knex) {
      await knex.schema.dropTable('completed_uploads');
    },
  },
  {
    name: '0007_change_notify',
    async up(knex) {
      // Gateways cache credentials and buckets; any change, by any process or tool, tells all of them.
      await knex.raw(`CREATE FUNCTION coffer_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('coffer_changes', TG_TABLE_NAME); RETURN NULL; END $$`);
      for (const table of ['credentials', 'buckets']) await knex.raw(notifyOnChange(table));
    },
    async down(knex) {
      for (const table of ['credentials', 'buckets'])
        await knex.raw(`DROP TRIGGER ${table}_changed ON ${table}`);
      await knex.raw('DROP FUNCTION coffer_notify_change()');
    },
  },
  {
    name: '0008_versions',
    async up(knex) {
      // objects keeps exactly the current version of each key, so listings cost the same however many
      // old versions exist; object_versions keeps noncurrent versions and delete markers. `seq` orders a
      // key's versions (newest highest) across both tables.
      await knex.raw('CREATE SEQUENCE object_version_seq');
      await knex.raw(`ALTER TABLE objects
        ADD COLUMN version_id text NOT NULL DEFAULT 'null',
        ADD COLUMN seq bigint NOT NULL DEFAULT nextval('object_version_seq')`);
      await knex.raw('CREATE TABLE object_versions (LIKE objects INCLUDING DEFAULTS)');
      await knex.raw(`ALTER TABLE object_versions
        ADD COLUMN delete_marker boolean NOT NULL DEFAULT false,
        ALTER COLUMN wrapped_key DROP NOT NULL,
        ALTER COLUMN segment_size DROP NOT NULL,
        ADD PRIMARY KEY (bucket_id, key, seq),
        ADD CONSTRAINT object_versions_bucket FOREIGN KEY (bucket_id) REFERENCES buckets (id) ON DELETE RESTRICT,
        ADD CONSTRAINT object_versions_location CHECK (
          CASE WHEN delete_marker THEN num_nonnulls(blob_id, inline_data, layout) = 0
               ELSE num_nonnulls(blob_id, inline_data, layout) = 1 AND wrapped_key IS NOT NULL END)`);
      await knex.raw(
        'CREATE UNIQUE INDEX object_versions_id ON object_versions (bucket_id, key, version_id)',
      );
      await knex.raw('CREATE INDEX object_versions_newest ON object_versions (bucket_id, key, seq DESC)');
      await knex.raw(
        'CREATE UNIQUE INDEX object_versions_blob_id ON object_versions (blob_id) WHERE blob_id IS NOT NULL',
      );
      await knex.raw(`ALTER TABLE buckets ADD COLUMN versioning text
        CONSTRAINT buckets_versioning CHECK (versioning IN ('Enabled', 'Suspended'))`);
    },
    async down(knex) {
      await knex.raw('ALTER TABLE buckets DROP COLUMN versioning');
      await knex.raw('DROP TABLE object_versions');
      await knex.raw('ALTER TABLE objects DROP COLUMN version_id, DROP COLUMN seq');
      await knex.raw('DROP SEQUENCE object_version_seq');
    },
  },
  {
    name: '0009_object_lock',
    async up(knex) {
      // Object lock: a bucket's configuration (null: never enabled) and each version's retention and legal
      // hold. Columns go to objects and object_versions alike, in the same order (rows move between them).
      await knex.raw('ALTER TABLE buckets ADD COLUMN object_lock jsonb');
      for (const table of ['objects', 'object_versions', 'uploads'])
        await knex.raw(`ALTER TABLE ${table}
          ADD COLUMN retain_mode text CONSTRAINT ${table}_retain_mode CHECK (retain_mode IN ('GOVERNANCE', 'COMPLIANCE')),
          ADD COLUMN retain_until timestamptz,
          ADD COLUMN legal_hold boolean NOT NULL DEFAULT false,
          ADD CONSTRAINT ${table}_retention_whole CHECK ((retain_mode IS NULL) = (retain_until IS NULL))`);
    },
    async down(knex) {
      for (const table of ['objects', 'object_versions', 'uploads'])
        await knex.raw(
          `ALTER TABLE ${table} DROP COLUMN retain_mode, DROP COLUMN retain_until, DROP COLUMN legal_hold`,
        );
      await knex.raw('ALTER TABLE buckets DROP COLUMN object_lock');
    },
  },
  {
    name: '0010_lifecycle',
    async up(knex) {
      // A bucket's lifecycle rules, and when each old version stopped being current (NoncurrentDays counts from it).
      await knex.raw('ALTER TABLE buckets ADD COLUMN lifecycle jsonb');
      await knex.raw('ALTER TABLE object_versions ADD COLUMN noncurrent_since timestamptz');
      await knex.raw('CREATE INDEX uploads_initiated ON uploads (bucket_id, initiated_at)');
    },
    async down(knex) {
      await knex.raw('DROP INDEX uploads_initiated');
      await knex.raw('ALTER TABLE object_versions DROP COLUMN noncurrent_since');
      await knex.raw('ALTER TABLE buckets DROP COLUMN lifecycle');
    },
  },
  {
    name: '0011_completed_upload_versions',
    async up(knex) {
      // A retried Complete in a versioned bucket gets the version id the first one created.
      await knex.raw('ALTER TABLE completed_uploads ADD COLUMN version_id text');
    },
    async down(knex) {
      await knex.raw('ALTER TABLE completed_uploads DROP COLUMN version_id');
    },
  },
  {
    name: '0012_users_policies',
    async up(knex) {
      // Users own buckets and hold access keys, so a key can rotate without moving a bucket. Each user has
      // a canonical id (64 hex digits, as AWS's) that bucket owners, initiators and policies name.
      await knex.raw(`CREATE TABLE users (
        id bigserial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        canonical_id text NOT NULL UNIQUE CHECK (canonical_id ~ '^[0-9a-f]{64}$'),
        created_at timestamptz NOT NULL DEFAULT now())`);
      await knex.raw(
        'ALTER TABLE credentials ADD COLUMN user_id bigint REFERENCES users (id) ON DELETE RESTRICT',
      );
      // One user per existing credential, and one for any bucket owner whose credential is gone.
      const keys = await knex.raw(`SELECT access_key, user_name FROM credentials
        UNION SELECT owner, NULL FROM buckets WHERE owner NOT IN (SELECT access_key FROM credentials)
        UNION SELECT initiator, NULL FROM uploads WHERE initiator NOT IN (SELECT access_key FROM credentials)
          AND initiator NOT IN (SELECT owner FROM buckets)
        ORDER BY 1`);
      const taken = new Set<string>();
      for (const { access_key: key, user_name: userName } of keys.rows as Array<{
        access_key: string;
        user_name: string | null;
      }>) {
        const name = userName && !taken.has(userName) ? userName : key;
        taken.add(name);
        const canonical = randomBytes(32).toString('hex');
        const [{ id }] = (
          await knex.raw('INSERT INTO users (name, canonical_id) VALUES (?, ?) RETURNING id', [
            name,
            canonical,
          ])
        ).rows;
        await knex.raw('UPDATE credentials SET user_id = ? WHERE access_key = ?', [id, key]);
        await knex.raw('UPDATE buckets SET owner = ? WHERE owner = ?', [canonical, key]);
        await knex.raw('UPDATE uploads SET initiator = ? WHERE initiator = ?', [canonical, key]);
      }
      await knex.raw('ALTER TABLE credentials ALTER COLUMN user_id SET NOT NULL');
      await knex.raw('CREATE INDEX credentials_user ON credentials (user_id)');
      await knex.raw(`ALTER TABLE buckets
        ADD CONSTRAINT buckets_owner FOREIGN KEY (owner) REFERENCES users (canonical_id) ON DELETE RESTRICT ON UPDATE CASCADE,
        ADD COLUMN policy text`);
      // Grants between users, kept as the policy statements they stand for so one engine evaluates both.
      await knex.raw(`CREATE TABLE bucket_grants (
        id bigserial PRIMARY KEY,
        bucket_id bigint NOT NULL REFERENCES buckets (id) ON DELETE CASCADE,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        access text NOT NULL CHECK (access IN ('read', 'write', 'read-write')),
        prefix text NOT NULL DEFAULT '',
        statements jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (bucket_id, user_id, prefix))`);
      for (const table of ['users', 'bucket_grants']) await knex.raw(notifyOnChange(table));
    },
    async down(knex) {
      await knex.raw('DROP TABLE bucket_grants');
      await knex.raw('ALTER TABLE buckets DROP CONSTRAINT buckets_owner, DROP COLUMN policy');
      await knex.raw(`UPDATE buckets b SET owner = (SELECT min(c.access_key) FROM credentials c JOIN users u
        ON u.id = c.user_id WHERE u.canonical_id = b.owner) WHERE owner IN (SELECT canonical_id FROM users u
        JOIN credentials c ON c.user_id = u.id)`);
      await knex.raw('ALTER TABLE credentials DROP COLUMN user_id');
      await knex.raw('DROP TABLE users');
    },
  },
  {
    name: '0013_acls',
    async up(knex) {
      // ACLs and the settings that govern them. Buckets that exist keep what they had (only the owner,
      // ACLs not honoured): AWS's defaults for new buckets since 2023, BucketOwnerEnforced and public
      // access blocked. An object's ACL (with its owner) goes to objects and object_versions alike.
      await knex.raw(`ALTER TABLE buckets
        ADD COLUMN acl jsonb,
        ADD COLUMN ownership text CONSTRAINT buckets_ownership
          CHECK (ownership IN ('BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter')),
        ADD COLUMN public_access_block jsonb`);
      await knex.raw(`UPDATE buckets SET ownership = 'BucketOwnerEnforced', public_access_block =
        '{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":true,"RestrictPublicBuckets":true}'`);
      for (const table of ['objects', 'object_versions', 'uploads'])
        await knex.raw(`ALTER TABLE ${table} ADD COLUMN acl jsonb`);
    },
    async down(knex) {
      for (const table of ['objects', 'object_versions', 'uploads'])
        await knex.raw(`ALTER TABLE ${table} DROP COLUMN acl`);
      await knex.raw(
        'ALTER TABLE buckets DROP COLUMN acl, DROP COLUMN ownership, DROP COLUMN public_access_block',
      );
    },
  },
  {
    name: '0014_audit',
    async up(knex) {
      // The audit trail: append-only, each record chained to the one before by a SHA-256 over both, so a
      // changed, removed or reordered record breaks the chain where it happened. The chain is extended
      // here, in one place, under a lock on its head row: whatever inserts a record gets it chained.
      await knex.raw(`CREATE TABLE audit_log (
        seq bigint PRIMARY KEY,
        at timestamptz NOT NULL,
        principal text,
        access_key text,
        source text,
        operation text NOT NULL,
        bucket text,
        key text,
        version_id text,
        result text NOT NULL,
        bytes bigint NOT NULL DEFAULT 0,
        request_id text,
        prev_hash bytea NOT NULL,
        hash bytea NOT NULL)`);
      await knex.raw('CREATE INDEX audit_log_at ON audit_log (at)');
      await knex.raw(`CREATE TABLE audit_head (
        id int PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        hash bytea NOT NULL,
        retention_days int NOT NULL)`);
      // The gateway sets the retention it is configured with at every start.
      await knex.raw(`INSERT INTO audit_head VALUES (1, 0, '\\x${'00'.repeat(32)}', 365)`);
      // What the hash covers; audit/chain.ts computes the same text to verify it. Text fields go in as
      // hex (no separator can be forged inside one), an absent one as '-'.
      await knex.raw(`CREATE FUNCTION coffer_audit_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN v IS NULL THEN '-' ELSE encode(convert_to(v, 'UTF8'), 'hex') END
      $$`);
      await knex.raw(`CREATE FUNCTION coffer_audit_text(r audit_log) RETURNS text LANGUAGE sql IMMUTABLE AS $$
        SELECT concat_ws('|', r.seq::text, (extract(epoch FROM r.at) * 1000)::bigint::text,
          coffer_audit_field(r.principal), coffer_audit_field(r.access_key), coffer_audit_field(r.source),
          coffer_audit_field(r.operation), coffer_audit_field(r.bucket), coffer_audit_field(r.key),
          coffer_audit_field(r.version_id), coffer_audit_field(r.result), r.bytes::text,
          coffer_audit_field(r.request_id))
      $$`);
      await knex.raw(auditChainFunction('coffer_audit_text(NEW)'));
      await knex.raw(`CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION coffer_audit_chain()`);
      // Records are never changed, and none younger than the retention is removed; only someone who
      // can disable triggers gets past this, and verification still finds what they did.
      await knex.raw(`CREATE FUNCTION coffer_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            IF OLD.at < now() - make_interval(days => (SELECT retention_days FROM audit_head WHERE id = 1)) THEN
              RETURN OLD;
            END IF;
          END IF;
          RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP;
        END $$`);
      await knex.raw(`CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION coffer_audit_guard()`);
      await knex.raw(`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION coffer_audit_guard()`);
    },
    async down(knex) {
      // CASCADE takes the triggers and coffer_audit_text, which depend on the table's row type.
      await knex.raw('DROP TABLE audit_log, audit_head CASCADE');
      await knex.raw('DROP FUNCTION coffer_audit_chain(), coffer_audit_guard(), coffer_audit_field(text)');
    },
  },
  {
    name: '0015_admin_accounts',
    async up(knex) {
      await knex.schema.alterTable('admins', (t) => {
        // The hash the admin secret file last set: a password changed in the console survives restarts,
        // and only a new file (setup-credentials --force) replaces it.
        t.text('seeded_password_hash');
        t.bigInteger('created_by').references('admins.id').onDelete('SET NULL');
      });
    },
    async down(knex) {
      await knex.schema.alterTable('admins', (t) => {
        t.dropColumn('seeded_password_hash');
        t.dropColumn('created_by');
      });
    },
  },
  {
    name: '0016_operations_history',
    async up(knex) {
      // What the background jobs did, for `npm run status` and the console; the last runs of each job.
      await knex.schema.createTable('job_runs', (t) => {
        t.bigIncrements('id').primary();
        t.text('job').notNullable();
        t.timestamp('started_at', { useTz: true }).notNullable();
        t.timestamp('finished_at', { useTz: true }).notNullable();
        t.text('outcome').notNullable();
        t.jsonb('report');
        t.text('error');
        t.index(['job', 'finished_at']);
      });
      // Stored bytes over time, sampled by one gateway at a time.
      await knex.schema.createTable('usage_samples', (t) => {
        t.timestamp('at', { useTz: true }).primary();
        t.bigInteger('bytes').notNullable();
        t.bigInteger('objects').notNullable();
      });
      // S3 requests per minute and status class, added to by every gateway process.
      await knex.schema.createTable('request_counts', (t) => {
        t.timestamp('minute', { useTz: true }).notNullable();
        t.text('class').notNullable();
        t.bigInteger('count').notNullable();
        t.primary(['minute', 'class']);
      });
    },
    async down(knex) {
      for (const t of ['request_counts', 'usage_samples', 'job_runs']) await knex.schema.dropTable(t);
    },
  },
  {
    name: '0017_backup_holds',
    async up(knex) {
      // While a backup copies the blobs its snapshot references, nothing queued as trash is freed.
      await knex.schema.createTable('backup_holds', (t) => {
        t.text('id').primary();
        t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
        // A backup that dies stops renewing its hold; freeing resumes once it expires.
        t.timestamp('expires_at', { useTz: true }).notNullable();
      });
    },
    async down(knex) {
      await knex.schema.dropTable('backup_holds');
    },
  },
  {
    name: '0018_bucket_events',
    async up(knex) {
      // Webhook targets an admin creates for one user; that user's buckets may send their events there.
      // They go with their user (whose buckets, if any, were handed over or refused the deletion).
      await knex.raw(`CREATE TABLE webhook_targets (
        id bigserial PRIMARY KEY,
        name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$'),
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        url text NOT NULL,
        auth text NOT NULL CHECK (auth IN ('none', 'bearer', 'hmac')),
        secret_sealed bytea,
        ca_bundle text,
        -- Declared by the deployment (WEBHOOKS_FILE): changed there, not through the management API.
        declared boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now())`);
      await knex.raw('ALTER TABLE buckets ADD COLUMN notification jsonb');
      // The outbox: one row per committed change to an object of a bucket with a notification
      // configuration, written by the trigger below in the change's own transaction, with the facts an
      // event message needs as they were then (the configuration too). No foreign key: a bucket deleted
      // right after its last object still has that object's removal delivered.
      await knex.raw(`CREATE TABLE bucket_events (
        seq bigserial PRIMARY KEY,
        at timestamptz NOT NULL,
        bucket text NOT NULL,
        bucket_owner text NOT NULL,
        notification jsonb NOT NULL,
        key text NOT NULL,
        version_id text,
        operation text NOT NULL,
        present boolean NOT NULL,
        delete_marker boolean NOT NULL,
        size bigint,
        etag text,
        principal text,
        access_key text,
        source text,
        request_id text)`);
      // What the events became: one message per matching rule's target, until it is delivered.
      await knex.raw(`CREATE TABLE event_deliveries (
        id bigserial PRIMARY KEY,
        event_seq bigint NOT NULL,
        target_id bigint NOT NULL REFERENCES webhook_targets (id) ON DELETE CASCADE,
        bucket text NOT NULL,
        key text NOT NULL,
        event_name text NOT NULL,
        payload json NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
        attempts int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_attempt_at timestamptz,
        last_error text)`);
      await knex.raw(
        'CREATE INDEX event_deliveries_order ON event_deliveries (state, target_id, bucket, key, id)',
      );
      // Every committed change carries its audit record (audit/audit-log.ts), whatever path committed
      // it: its event is written here, from that record, after the change's own rows in the same
      // transaction, so what the event says of the object (its ETag, a delete marker) is what the
      // change left. Buckets without a configuration cost one index lookup.
      await knex.raw(`CREATE FUNCTION coffer_bucket_event() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE b buckets%ROWTYPE; k bytea; found_it boolean; marker boolean := false; sz bigint; tag text;
          ver text;
        BEGIN
          SELECT * INTO b FROM buckets WHERE name = NEW.bucket AND notification IS NOT NULL;
          IF NOT FOUND THEN RETURN NULL; END IF;
          k := convert_to(NEW.key, 'UTF8');
          -- A change that named no version changed the current one: the message names it.
          SELECT size, etag, version_id INTO sz, tag, ver FROM objects
            WHERE bucket_id = b.id AND key = k AND version_id = coalesce(NEW.version_id, version_id);
          found_it := FOUND;
          IF NOT found_it AND NEW.version_id IS NOT NULL THEN
            SELECT size, etag, delete_marker INTO sz, tag, marker FROM object_versions
              WHERE bucket_id = b.id AND key = k AND version_id = NEW.version_id;
            found_it := FOUND;
          END IF;
          INSERT INTO bucket_events (at, bucket, bucket_owner, notification, key, version_id, operation,
            present, delete_marker, size, etag, principal, access_key, source, request_id)
          VALUES (NEW.at, NEW.bucket, b.owner, b.notification, NEW.key, coalesce(NEW.version_id, ver), NEW.operation,
            found_it AND NOT coalesce(marker, false), found_it AND coalesce(marker, false), sz, tag,
            NEW.principal, NEW.access_key, NEW.source, NEW.request_id);
          RETURN NULL;
        END $$`);
      await knex.raw(`CREATE TRIGGER audit_log_bucket_event AFTER INSERT ON audit_log FOR EACH ROW
        WHEN (NEW.result = 'committed' AND NEW.bucket IS NOT NULL AND NEW.key IS NOT NULL)
        EXECUTE FUNCTION coffer_bucket_event()`);
      // Every gateway's delivery worker wakes on a new event, and on a target changed elsewhere.
      for (const table of ['bucket_events', 'webhook_targets']) await knex.raw(notifyOnChange(table));
    },
    async down(knex) {
      await knex.raw('DROP TRIGGER audit_log_bucket_event ON audit_log');
      await knex.raw('DROP FUNCTION coffer_bucket_event()');
      await knex.raw('DROP TABLE event_deliveries, bucket_events, webhook_targets');
      await knex.raw('ALTER TABLE buckets DROP COLUMN notification');
    },
  },
  {
    name: '0019_audit_chain_inline',
    async up(knex) {
      // The same text as coffer_audit_text(NEW), written out in the trigger: called from PL/pgSQL, the SQL
      // function is not inlined, and running it took 20 of the 48 µs the chain cost each record.
      await knex.raw(auditChainFunction(auditTextOfNew()));
    },
    async down(knex) {
      await knex.raw(auditChainFunction('coffer_audit_text(NEW)'));
    },
  },
  {
    name: '0020_inline_data_uncompressed',
    async up(knex) {
      // Sealed bytes are AES-GCM output: Postgres' attempt to compress each one always failed, and cost a
      // tenth of its CPU per 4 KiB PUT. Rows already stored stay as they are.
      for (const table of INLINE_TABLES)
        await knex.raw(`ALTER TABLE ${table} ALTER COLUMN inline_data SET STORAGE EXTERNAL`);
    },
    async down(knex) {
      for (const table of INLINE_TABLES)
        await knex.raw(`ALTER TABLE ${table} ALTER COLUMN inline_data SET STORAGE EXTENDED`);
    },
  },
];

/** The tables whose rows may hold an object's sealed bytes inline. */
const INLINE_TABLES = ['objects', 'object_versions'];

/** A trigger that tells every gateway (LISTEN coffer_changes) when `table` changes, whatever changed it. */
function notifyOnChange(table: string): string {
  return `CREATE TRIGGER ${table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
    FOR EACH STATEMENT EXECUTE FUNCTION coffer_notify_change()`;
}

/** coffer_audit_text(NEW) as one expression over NEW's fields (audit/chain.ts recordText is the same). */
function auditTextOfNew(): string {
  const field = (f: string) =>
    `CASE WHEN NEW.${f} IS NULL THEN '-' ELSE encode(convert_to(NEW.${f}, 'UTF8'), 'hex') END`;
  const fields = ['principal', 'access_key', 'source', 'operation', 'bucket', 'key', 'version_id', 'result'];
  return `concat_ws('|', NEW.seq::text, (extract(epoch FROM NEW.at) * 1000)::bigint::text,
    ${fields.map(field).join(',\n    ')},
    NEW.bytes::text, ${field('request_id')})`;
}

/** The chain trigger of 0014_audit, hashing `text`. */
function auditChainFunction(text: string): string {
  return `CREATE OR REPLACE FUNCTION coffer_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE head audit_head%ROWTYPE;
    BEGIN
      SELECT * INTO head FROM audit_head WHERE id = 1 FOR UPDATE;
      NEW.seq := head.seq + 1;
      NEW.at := date_trunc('milliseconds', clock_timestamp());
      NEW.prev_hash := head.hash;
      NEW.hash := sha256(head.hash || convert_to(${text}, 'UTF8'));
      UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
      RETURN NEW;
    END $$`;
}

export const migrationSource: Knex.MigrationSource<Migration> = {
  async getMigrations() {
    return MIGRATIONS;
  },
  getMigrationName(m) {
    return m.name;
  },
  async getMigration(m) {
    return m;
  },
};
