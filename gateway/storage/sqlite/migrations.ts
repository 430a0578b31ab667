// Versioned schema migrations, applied in order once each; never edit a released one, add the next.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'core alarm path',
    sql: `
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

      -- Registry entities keep their whole document (fields beyond the contract are allowed) plus indexed keys.
      CREATE TABLE communities (id TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE residents (id TEXT PRIMARY KEY, community_id TEXT NOT NULL, doc TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE INDEX residents_community ON residents(community_id);
      CREATE TABLE workers (id TEXT PRIMARY KEY, community_id TEXT NOT NULL, phone TEXT NOT NULL, doc TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE INDEX workers_phone ON workers(phone);
      CREATE TABLE devices (id TEXT PRIMARY KEY, kind TEXT NOT NULL, resident_id TEXT NOT NULL, secret_hash TEXT NOT NULL, doc TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE INDEX devices_resident ON devices(resident_id);
      CREATE TABLE volunteers (id TEXT PRIMARY KEY, phone TEXT NOT NULL, doc TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE visits (id TEXT PRIMARY KEY, volunteer_id TEXT NOT NULL, resident_id TEXT NOT NULL, doc TEXT NOT NULL, updated_at INTEGER NOT NULL);

      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        payload_hash TEXT NOT NULL,
        device_ts TEXT,
        received_at INTEGER NOT NULL,
        processed INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX events_dedupe ON events(device_id, seq, payload_hash, received_at);
      CREATE INDEX events_unprocessed ON events(processed) WHERE processed = 0;

      CREATE TABLE rejections (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        payload_excerpt TEXT NOT NULL,
        received_at INTEGER NOT NULL
      );
      CREATE INDEX rejections_device ON rejections(device_id, received_at);

      CREATE TABLE device_health (
        device_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        last_seen INTEGER,
        battery INTEGER,
        rssi INTEGER,
        last_status_at INTEGER,
        remote_address TEXT,
        last_rejection TEXT,
        rejected_count INTEGER NOT NULL DEFAULT 0
      );

      CREATE TABLE security_events (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        device_id TEXT,
        client_id TEXT,
        remote_address TEXT,
        detail TEXT NOT NULL
      );

      CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        resident_id TEXT NOT NULL,
        community_id TEXT NOT NULL,
        type TEXT NOT NULL,
        state TEXT NOT NULL,
        step INTEGER NOT NULL,
        unassigned INTEGER NOT NULL,
        plan TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        first_paged_at INTEGER,
        acknowledged_at INTEGER,
        acknowledged_by TEXT,
        resolved_at INTEGER,
        cancelled_at INTEGER,
        signal_count INTEGER NOT NULL,
        last_signal_at INTEGER NOT NULL,
        next_step_at INTEGER
      );
      CREATE INDEX incidents_resident_state ON incidents(resident_id, state);
      CREATE INDEX incidents_state_opened ON incidents(state, opened_at);
      -- At most one active incident per resident: repeated presses must join it, even under a race.
      CREATE UNIQUE INDEX incidents_one_active ON incidents(resident_id) WHERE state IN ('pending', 'open', 'acknowledged');

      CREATE TABLE incident_signals (incident_id TEXT NOT NULL, event_id INTEGER NOT NULL, PRIMARY KEY (incident_id, event_id));

      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        incident_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        channel TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX audit_incident ON audit_log(incident_id, id);

      CREATE TABLE sms_messages (
        id TEXT PRIMARY KEY,
        to_phone TEXT NOT NULL,
        body TEXT NOT NULL,
        purpose TEXT NOT NULL,
        incident_id TEXT,
        step INTEGER,
        role TEXT,
        person_id TEXT,
        context TEXT,
        status TEXT NOT NULL,
        provider TEXT NOT NULL,
        provider_sid TEXT UNIQUE,
        attempts INTEGER NOT NULL,
        error_code TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        sent_at INTEGER,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX sms_to_context ON sms_messages(to_phone, created_at) WHERE context IS NOT NULL;
      CREATE INDEX sms_incident ON sms_messages(incident_id, created_at);
      CREATE INDEX sms_unsent ON sms_messages(status) WHERE status IN ('queued', 'sending');

      CREATE TABLE sms_inbound (
        id INTEGER PRIMARY KEY,
        from_phone TEXT NOT NULL,
        body TEXT NOT NULL,
        provider_sid TEXT,
        received_at INTEGER NOT NULL,
        handled_as TEXT NOT NULL,
        incident_id TEXT
      );

      CREATE TABLE timers (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        fired_at INTEGER
      );
      CREATE INDEX timers_pending ON timers(state, due_at);
      CREATE INDEX timers_incident ON timers(incident_id);
    `,
  },
  {
    version: 2,
    name: 'device supervision and care tasks',
    sql: `
      -- Non-urgent care work for a resident's grid worker; device_key is the device id or '' for resident-level tasks,
      -- so the partial unique index also keeps one open wellness check per resident.
      CREATE TABLE care_tasks (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        resident_id TEXT NOT NULL,
        device_id TEXT,
        device_key TEXT NOT NULL,
        community_id TEXT NOT NULL,
        worker_id TEXT,
        detail TEXT,
        opened_at INTEGER NOT NULL,
        closed_at INTEGER,
        closed_by TEXT,
        close_reason TEXT,
        close_note TEXT,
        updated_at INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX care_tasks_one_open ON care_tasks(kind, resident_id, device_key) WHERE state = 'open';
      CREATE INDEX care_tasks_state_opened ON care_tasks(state, opened_at);
      CREATE INDEX care_tasks_worker ON care_tasks(worker_id, state);

      -- Grouped outages (many devices of one building or community offline together); at most one open per place.
      CREATE TABLE outages (
        id TEXT PRIMARY KEY,
        place_kind TEXT NOT NULL,
        place_key TEXT NOT NULL,
        community_id TEXT NOT NULL,
        building TEXT,
        devices TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        closed_at INTEGER,
        summary TEXT,
        page TEXT,
        updated_at INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX outages_one_open ON outages(place_key) WHERE closed_at IS NULL;
      CREATE INDEX outages_opened ON outages(opened_at);

      -- Each digest SMS (digest:<date>:<HH:MM>:<worker>) and each finished slot (digest:<date>:<HH:MM>) at most once, across restarts.
      CREATE TABLE care_digest_runs (key TEXT PRIMARY KEY, ran_at INTEGER NOT NULL);
    `,
  },
  {
    version: 3,
    name: 'volunteer visits',
    sql: `
      -- Visit definitions stay in the registry's visits table; a coordinator's pause, cancel and reassignments live here,
      -- so a registry re-import changes a plan without undoing them.
      CREATE TABLE visit_controls (
        visit_id TEXT PRIMARY KEY,
        created_at INTEGER,
        cancelled_at INTEGER,
        paused_since INTEGER,
        pauses TEXT NOT NULL DEFAULT '[]',
        former_volunteers TEXT NOT NULL DEFAULT '[]',
        updated_at INTEGER NOT NULL
      );

      -- Occurrences are expanded from the schedule; a row exists only once something happened to one.
      CREATE TABLE visit_occurrences (
        visit_id TEXT NOT NULL,
        start_at INTEGER NOT NULL,
        end_at INTEGER NOT NULL,
        volunteer_id TEXT NOT NULL,
        resident_id TEXT NOT NULL,
        status TEXT NOT NULL,
        reassigned_from TEXT,
        checked_in_at INTEGER,
        checked_out_at INTEGER,
        door_unanswered_at INTEGER,
        missed_at INTEGER,
        cancelled_at INTEGER,
        credited_hours REAL NOT NULL DEFAULT 0,
        note TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (visit_id, start_at)
      );
      CREATE INDEX visit_occurrences_start ON visit_occurrences(start_at);
      CREATE INDEX visit_occurrences_checked_in ON visit_occurrences(volunteer_id, start_at) WHERE status = 'checked_in';

      CREATE TABLE volunteer_ledger (
        id INTEGER PRIMARY KEY,
        volunteer_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        service_date TEXT NOT NULL,
        kind TEXT NOT NULL,
        visit_id TEXT,
        occurrence_start INTEGER,
        hours REAL NOT NULL,
        points REAL NOT NULL,
        note TEXT,
        actor TEXT NOT NULL
      );
      CREATE INDEX volunteer_ledger_volunteer ON volunteer_ledger(volunteer_id, id);
      CREATE INDEX volunteer_ledger_service_date ON volunteer_ledger(service_date);

      -- Each scheduled job run (reminder:<date>:<volunteer>) happens at most once, across restarts.
      CREATE TABLE visit_job_runs (key TEXT PRIMARY KEY, ran_at INTEGER NOT NULL);
    `,
  },
  {
    version: 4,
    name: 'dashboard accounts and sessions',
    sql: `
      -- Dashboard users: staff with a password, workers and volunteers linked to their registry entry (phone sign-in).
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        community_id TEXT,
        worker_id TEXT UNIQUE,
        volunteer_id TEXT UNIQUE,
        phone TEXT,
        password_hash TEXT,
        disabled_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_login_at INTEGER
      );
      CREATE INDEX users_role ON users(role);

      -- Only the sha256 of a session id is kept: a copy of the database does not let anyone sign in.
      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER,
        ip TEXT
      );
      CREATE INDEX sessions_user ON sessions(user_id);
      CREATE INDEX sessions_expires ON sessions(expires_at);

      CREATE TABLE otp_codes (
        id INTEGER PRIMARY KEY,
        phone TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        salt TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        used_at INTEGER
      );
      CREATE INDEX otp_codes_phone ON otp_codes(phone, id);

      CREATE TABLE account_audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        user_id TEXT,
        subject TEXT,
        ip TEXT,
        detail TEXT
      );
      CREATE INDEX account_audit_at ON account_audit(at, id);
    `,
  },
  {
    version: 5,
    name: 'inactivity monitor',
    sql: `
      -- One row per watched resident: waking time counted without a sign of life, and where the episode stands,
      -- so a restart resumes the count instead of starting it again, and never opens or pages an episode twice.
      CREATE TABLE wellness_state (
        resident_id TEXT PRIMARY KEY,
        last_sign_at INTEGER,
        last_sign_source TEXT,
        inactive_ms INTEGER NOT NULL,
        counted_until INTEGER NOT NULL,
        task_opened_at INTEGER,
        paged_at INTEGER,
        updated_at INTEGER NOT NULL
      );
      -- The last device event taken into account: events recorded after it are read back at start.
      CREATE TABLE wellness_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), event_id INTEGER NOT NULL);
    `,
  },
  {
    version: 6,
    name: 'incident on-site time',
    sql: `
      -- When the responder arrived ("已到达"), for time-to-attend reports. Written only by its own statement
      -- (SqliteIncidentRepo.markOnSite), so a whole-row update from an older copy of the incident cannot clear it.
      ALTER TABLE incidents ADD COLUMN on_site_at INTEGER;
      ALTER TABLE incidents ADD COLUMN on_site_by TEXT;
    `,
  },
  {
    version: 7,
    name: 'outage close record',
    sql: `
      -- How and by whom an outage closed: recovered, merged, partially_recovered (stale) or closed_by_hand with a note.
      ALTER TABLE outages ADD COLUMN closed_by TEXT;
      ALTER TABLE outages ADD COLUMN close_reason TEXT;
      ALTER TABLE outages ADD COLUMN close_note TEXT;
    `,
  },
  {
    version: 8,
    name: 'narrower redelivery index',
    sql: `
      -- (device, seq) finds the few candidate rows; the hash and the time are compared on the row. The old four-column
      -- key made every insert dirty more index pages inside the group commit that holds the PUBACKs.
      DROP INDEX events_dedupe;
      CREATE INDEX events_dedupe ON events(device_id, seq);
    `,
  },
  {
    version: 9,
    name: 'redelivery by connection',
    sql: `
      -- The device connection an event arrived on: a seq seen again on the same connection is a resend, while on a
      -- new one (without DUP) it is a device whose counter restarted. Rows recorded before have none (NULL), so only
      -- a DUP resend can match them.
      ALTER TABLE events ADD COLUMN session TEXT;
    `,
  },
  {
    version: 10,
    name: 'sign-in codes masked at rest',
    sql: `
      -- Earlier versions stored the sign-in SMS with its code in clear, and the SMS log showed it. The code sits right
      -- after "验证码是 " and has 6 digits; any other sign-in text with a long number loses all its digits.
      UPDATE sms_messages
        SET body = substr(body, 1, instr(body, '验证码是 ') + 4) || '******' || substr(body, instr(body, '验证码是 ') + 11)
        WHERE purpose = 'otp' AND instr(body, '验证码是 ') > 0 AND substr(body, instr(body, '验证码是 ') + 5, 6) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]';
      UPDATE sms_messages
        SET body = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(body,
          '0', '*'), '1', '*'), '2', '*'), '3', '*'), '4', '*'), '5', '*'), '6', '*'), '7', '*'), '8', '*'), '9', '*')
        WHERE purpose = 'otp' AND body GLOB '*[0-9][0-9][0-9][0-9]*';
    `,
  },
  {
    version: 11,
    name: 'inbound SMS dedupe and page answers',
    sql: `
      -- Every inbound message id a provider gave us: a redelivered or replayed reply is answered but not acted on again.
      CREATE TABLE sms_inbound_seen (
        provider TEXT NOT NULL,
        message_id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (provider, message_id)
      );
      -- When a phone last answered (1 or 2) an incident: pages sent before then take no further reply.
      CREATE TABLE page_answers (
        phone TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        answered_at INTEGER NOT NULL,
        PRIMARY KEY (phone, incident_id)
      );
      CREATE INDEX sms_pages_to ON sms_messages(to_phone, created_at) WHERE purpose = 'page';
    `,
  },
  {
    version: 20,
    name: 'SMS intents, priorities and per-recipient provider caps',
    sql: `
      -- What each message means (kind and named parameters, secrets masked) and whether it is alarm or routine traffic.
      ALTER TABLE sms_messages ADD COLUMN intent TEXT;
      ALTER TABLE sms_messages ADD COLUMN priority TEXT NOT NULL DEFAULT 'routine';
      UPDATE sms_messages SET priority = 'alarm' WHERE purpose IN ('page', 'page_link');
      -- Every message a provider took, by number: the counters behind the providers' per-recipient caps.
      CREATE TABLE sms_cap_log (
        provider TEXT NOT NULL,
        phone TEXT NOT NULL,
        kind TEXT NOT NULL,
        content TEXT NOT NULL,
        sent_at INTEGER NOT NULL
      );
      CREATE INDEX sms_cap_log_phone ON sms_cap_log(provider, phone, sent_at);
    `,
  },
  {
    version: 21,
    name: 'incident-page link codes',
    sql: `
      -- The short code an SMS carries instead of a signed link: typed at PUBLIC_URL/i, it opens that person's signed link.
      CREATE TABLE page_link_codes (
        code TEXT PRIMARY KEY,
        incident_code TEXT NOT NULL,
        person_id TEXT NOT NULL,
        role TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 30,
    name: 'SMS awaiting a receipt, per provider',
    sql: `
      -- Aliyun receipts pulled with QuerySendDetails: messages the provider took and has not reported on yet.
      CREATE INDEX sms_awaiting_receipt ON sms_messages(provider, sent_at) WHERE status IN ('accepted', 'sent');
    `,
  },
  {
    version: 40,
    name: 'voice calls and per-number call counts',
    sql: `
      -- Each call to a responder whose SMS page went unanswered, and how it ended (key 1, key 2, no key, busy, ...).
      CREATE TABLE voice_calls (
        id TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        to_phone TEXT NOT NULL,
        person_id TEXT NOT NULL,
        role TEXT NOT NULL,
        name TEXT NOT NULL,
        provider TEXT NOT NULL,
        provider_call_id TEXT,
        status TEXT NOT NULL,
        key_pressed TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        ended_at INTEGER,
        error TEXT
      );
      CREATE INDEX voice_calls_incident ON voice_calls(incident_id, created_at);
      CREATE UNIQUE INDEX voice_calls_provider_id ON voice_calls(provider, provider_call_id) WHERE provider_call_id IS NOT NULL;
      -- Calls placed per number and provider: the providers' caps (one a night, five an hour) count these.
      CREATE TABLE voice_call_counts (
        provider TEXT NOT NULL,
        phone TEXT NOT NULL,
        placed_at INTEGER NOT NULL
      );
      CREATE INDEX voice_call_counts_phone ON voice_call_counts(provider, phone, placed_at);
    `,
  },
  {
    version: 50,
    name: 'bridges in the registry',
    sql: `
      -- zigbee2mqtt, ChirpStack and vendor-cloud bridges. secret_hash: the scrypt hash a zigbee2mqtt on our broker
      -- signs in with; the passwords of external brokers and the HTTP signing secrets stay in doc, as the gateway must
      -- present or recompute them.
      CREATE TABLE bridges (id TEXT PRIMARY KEY, kind TEXT NOT NULL, secret_hash TEXT, doc TEXT NOT NULL, updated_at INTEGER NOT NULL);
      -- A bridged device is found by its id on the bridge (external_id as normaliseExternalId writes it). Not unique
      -- in the index, so one import can swap two devices' ids; the import checks uniqueness before it commits.
      ALTER TABLE devices ADD COLUMN bridge_id TEXT;
      ALTER TABLE devices ADD COLUMN external_id TEXT;
      CREATE INDEX devices_bridge_external ON devices(bridge_id, external_id) WHERE bridge_id IS NOT NULL;
    `,
  },
  {
    version: 51,
    name: 'bridged device levels',
    sql: `
      -- The last level of each state-style field a bridge reported for a device (occupancy, sos, fall_down_status...):
      -- an event is raised only on a change to the active level, so a restart neither raises one again nor misses one.
      CREATE TABLE bridge_levels (
        device_id TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, field)
      );
    `,
  },
  {
    version: 60,
    name: 'test presses',
    sql: `
      -- A weekly test press: paged to the worker only, left out of the statistics.
      ALTER TABLE incidents ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
      -- Test windows set from the dashboard or the API: who set them and who ended them is their audit record.
      CREATE TABLE test_windows (
        id TEXT PRIMARY KEY,
        scope_kind TEXT NOT NULL,
        device_id TEXT,
        community_id TEXT NOT NULL,
        building TEXT,
        started_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        started_by TEXT NOT NULL,
        ended_at INTEGER,
        ended_by TEXT,
        end_reason TEXT,
        note TEXT
      );
      CREATE INDEX test_windows_device ON test_windows(device_id, started_at) WHERE device_id IS NOT NULL;
      CREATE INDEX test_windows_building ON test_windows(community_id, building, started_at) WHERE building IS NOT NULL;
      CREATE INDEX test_windows_running ON test_windows(ended_at) WHERE ended_at IS NULL;
      -- Every press taken as a test: the weekly report finds the buttons without one in the last seven days.
      CREATE TABLE test_presses (
        event_id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        resident_id TEXT NOT NULL,
        window_id TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX test_presses_device ON test_presses(device_id, at);
      CREATE TABLE test_incidents (window_id TEXT NOT NULL, incident_id TEXT NOT NULL, PRIMARY KEY (window_id, incident_id));
    `,
  },
  {
    version: 65,
    name: 'shared sign-in failures',
    sql: `
      -- Sign-in failures under each limiter's key, so several nodes can count them together (used with PostgreSQL).
      CREATE TABLE auth_failures (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        at INTEGER NOT NULL,
        node TEXT NOT NULL
      );
      CREATE INDEX auth_failures_at ON auth_failures(at);
    `,
  },
  {
    version: 70,
    name: 'device session starts',
    sql: `
      -- When each device's last MQTT session started: a device reconnecting after an incident ended is told "resolved"
      -- only if it has not started a session since that end.
      CREATE TABLE device_session_starts (device_id TEXT PRIMARY KEY, started_at INTEGER NOT NULL);
    `,
  },
];
