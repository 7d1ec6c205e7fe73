// [http.tokens]: each user's bearer token, read from a file that user owns, as that user.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "skedd/util/result.h"

namespace skedd::http {

/// Who a token speaks for.
struct TokenUser {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// A token file holds one token: 16 to 512 bytes of printable ASCII without spaces (a
/// trailing newline is dropped).
constexpr std::size_t kMinTokenBytes = 16;
constexpr std::size_t kMaxTokenBytes = 512;

class TokenTable {
 public:
  void add(std::string token, TokenUser user) {
    entries_.emplace_back(std::move(token), std::move(user));
  }
  /// The user whose token `token` is. Every entry is compared in full, in time that depends
  /// on the lengths only, so that the time taken tells nothing of a token's bytes.
  std::optional<TokenUser> find(std::string_view token) const;
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, TokenUser>> entries_;
};

struct LoadedTokens {
  TokenTable table;
  /// One per token file refused: `http.tokens.alice: /home/alice/t: why`.
  std::vector<std::string> errors;
};

/// Reads each user's token file as that user (a child process that has dropped to the
/// user's uid and gids opens it, so that root never follows a user's symbolic links or
/// reads what the user could not). A file is refused unless it is a regular file (not a
/// symbolic link) owned by the user, with no permission for group or others, holding a
/// token as above; a user that does not exist, and a token given to two users, are refused.
LoadedTokens load_tokens(const std::map<std::string, std::string>& files);

/// The token file's content, read as `uid`/`gid` with the checks above (not the token's
/// syntax). For load_tokens() and its tests.
Result<std::string> read_token_file(const std::string& path, uid_t uid, gid_t gid);

/// The token of a token file's content (its trailing newline dropped), or why it is not one.
Result<std::string> token_of(std::string_view content);

}  // namespace skedd::http
