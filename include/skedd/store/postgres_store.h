#pragma once

#include <memory>
#include <string>

#include "skedd/store/store.h"
#include "skedd/util/result.h"

namespace skedd {

struct PostgresStoreOptions {
  /// A libpq connection string or URI (postgresql://...), without a password: one given in
  /// it is refused (see check_postgres_url()).
  std::string url;
  /// The libpq password file (passfile), "" for libpq's default (~/.pgpass of the user).
  std::string passfile;
  /// The schema skedd's tables live in, made when missing: several nodes of one cluster
  /// share one; a test takes a schema of its own.
  std::string schema = "skedd";
  /// How long a connection attempt may take before it fails (libpq connect_timeout).
  int connect_timeout_s = 5;
  /// The name the server shows for skedd's connections (pg_stat_activity).
  std::string application_name = "skedd";
};

/// Whether `url` is a connection string skedd accepts: one libpq parses, that carries no
/// password (a password comes from the passfile, never from the config text). The error
/// says what is wrong, never the string's secrets.
Status check_postgres_url(const std::string& url);

/// Whether `schema` is a schema name skedd accepts: [a-z_][a-z0-9_]{0,62}.
Status check_postgres_schema(const std::string& schema);

/// Connects to the PostgreSQL database `options.url` names (two connections: the writer's
/// and the readers'), makes the schema when missing and brings its tables up to date
/// (forward migrations only, in one transaction under a lock of the version table, so that
/// several nodes starting at once migrate once). A schema written by a newer skedd is refused.
/// Writes are queued and committed in batches on a thread of the store's; a commit that
/// fails (the server restarted, the network) keeps its writes and is retried, reconnecting.
Result<std::unique_ptr<Store>> open_postgres_store(const PostgresStoreOptions& options);

}  // namespace skedd
