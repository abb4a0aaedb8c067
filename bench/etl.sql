-- The SPEC's ETL as a competent DuckDB user writes it: typed read_json with explicit columns,
-- window functions for deduplication and the latest user, the nearest-duration join, and
-- partitioned COPY. {{SONGS}}, {{LOGS}} and {{OUT}} are replaced by the harness.
SET preserve_insertion_order = false;

CREATE TEMP TABLE songs_raw AS
SELECT * FROM read_json('{{SONGS}}/**/*.json', format = 'newline_delimited', filename = true,
  columns = {num_songs: 'BIGINT', artist_id: 'VARCHAR', artist_latitude: 'DOUBLE', artist_longitude: 'DOUBLE',
             artist_location: 'VARCHAR', artist_name: 'VARCHAR', song_id: 'VARCHAR', title: 'VARCHAR',
             duration: 'DOUBLE', year: 'BIGINT'});

CREATE TEMP TABLE events AS
SELECT * FROM read_json('{{LOGS}}/**/*.json', format = 'newline_delimited', filename = true,
  columns = {artist: 'VARCHAR', auth: 'VARCHAR', firstName: 'VARCHAR', gender: 'VARCHAR', itemInSession: 'INTEGER',
             lastName: 'VARCHAR', length: 'DOUBLE', level: 'VARCHAR', location: 'VARCHAR', method: 'VARCHAR',
             page: 'VARCHAR', registration: 'DOUBLE', sessionId: 'BIGINT', song: 'VARCHAR', status: 'INTEGER',
             ts: 'BIGINT', userAgent: 'VARCHAR', userId: 'VARCHAR'});

CREATE TEMP TABLE songs AS
SELECT * FROM songs_raw QUALIFY row_number() OVER (PARTITION BY song_id ORDER BY filename) = 1;

CREATE TEMP TABLE plays AS
SELECT * FROM events WHERE page = 'NextSong' AND userId <> ''
QUALIFY row_number() OVER (PARTITION BY userId, sessionId, itemInSession ORDER BY ts, filename) = 1;

CREATE TEMP TABLE matches AS
SELECT p.userId, p.sessionId, p.itemInSession, s.song_id, s.artist_id
FROM plays p JOIN songs s ON s.title = p.song AND s.artist_name = p.artist
QUALIFY row_number() OVER (PARTITION BY p.userId, p.sessionId, p.itemInSession
                           ORDER BY abs(s.duration - p.length) NULLS LAST, s.song_id) = 1;

COPY (
  SELECT hash(p.userId, p.sessionId, p.itemInSession) AS songplay_id,
         make_timestamp(p.ts * 1000) AS start_time,
         CAST(p.userId AS BIGINT) AS user_id, nullif(p.level, '') AS level,
         m.song_id, m.artist_id, p.sessionId AS session_id, p.itemInSession AS item_in_session,
         nullif(p.location, '') AS location, nullif(p.userAgent, '') AS user_agent,
         year(make_timestamp(p.ts * 1000)) AS year, month(make_timestamp(p.ts * 1000)) AS month
  FROM plays p LEFT JOIN matches m USING (userId, sessionId, itemInSession)
) TO '{{OUT}}/songplays' (FORMAT parquet, PARTITION_BY (year, month));

COPY (
  SELECT CAST(userId AS BIGINT) AS user_id, nullif(firstName, '') AS first_name, nullif(lastName, '') AS last_name,
         nullif(gender, '') AS gender, nullif(level, '') AS level
  FROM events WHERE userId <> ''
  QUALIFY row_number() OVER (PARTITION BY userId ORDER BY ts DESC, sessionId DESC, itemInSession DESC, filename) = 1
) TO '{{OUT}}/users/data.parquet' (FORMAT parquet);

COPY (
  SELECT song_id, title, duration, nullif(year, 0) AS year, artist_id FROM songs
) TO '{{OUT}}/songs' (FORMAT parquet, PARTITION_BY (year, artist_id));

COPY (
  SELECT artist_id, artist_name AS name, nullif(artist_location, '') AS location,
         artist_latitude AS latitude, artist_longitude AS longitude
  FROM songs_raw QUALIFY row_number() OVER (PARTITION BY artist_id ORDER BY filename) = 1
) TO '{{OUT}}/artists/data.parquet' (FORMAT parquet);

COPY (
  SELECT DISTINCT make_timestamp(ts * 1000) AS start_time,
         hour(make_timestamp(ts * 1000)) AS hour, day(make_timestamp(ts * 1000)) AS day,
         week(make_timestamp(ts * 1000)) AS week, isodow(make_timestamp(ts * 1000)) AS weekday,
         year(make_timestamp(ts * 1000)) AS year, month(make_timestamp(ts * 1000)) AS month
  FROM plays
) TO '{{OUT}}/time' (FORMAT parquet, PARTITION_BY (year, month));
