// Request-head parsing for HttpServer (RFC 9112, the subset a GET-only server needs).
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "node/http_server.h"

namespace rangedb {
namespace {

// RFC 9110 section 5.6.2 "tchar": the characters of methods and header names.
bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == '\0' || !IsTokenChar(c)) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::Status ParseQuery(std::string_view query, std::map<std::string, std::string>* params) {
  for (absl::string_view piece :
       absl::StrSplit(absl::string_view(query.data(), query.size()), '&', absl::SkipEmpty())) {
    std::string_view part(piece.data(), piece.size());
    size_t eq = part.find('=');
    auto name = PercentDecode(part.substr(0, eq), /*plus_is_space=*/true);
    if (!name.ok()) return name.status();
    std::string value;
    if (eq != std::string_view::npos) {
      auto decoded = PercentDecode(part.substr(eq + 1), /*plus_is_space=*/true);
      if (!decoded.ok()) return decoded.status();
      value = *std::move(decoded);
    }
    (*params)[*std::move(name)] = std::move(value);
  }
  return absl::OkStatus();
}

absl::Status ParseHeaderLine(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    return absl::InvalidArgumentError("obsolete header line folding");
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
    return absl::InvalidArgumentError("malformed header line");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      int high = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      int low = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad percent escape in \"",
                         absl::CHexEscape(absl::string_view(s.data(), s.size())), "\""));
      }
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

absl::StatusOr<HttpRequest> ParseHttpRequestHead(std::string_view head) {
  if (!head.ends_with("\r\n\r\n")) return absl::InvalidArgumentError("incomplete request head");
  head.remove_suffix(4);
  size_t line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(request_line.data(), request_line.size()), ' ');
  if (parts.size() != 3) return absl::InvalidArgumentError("malformed request line");
  std::string_view method(parts[0].data(), parts[0].size());
  std::string_view target(parts[1].data(), parts[1].size());
  std::string_view version(parts[2].data(), parts[2].size());
  if (!IsToken(method)) return absl::InvalidArgumentError("malformed method");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return absl::InvalidArgumentError("unsupported HTTP version");
  }
  if (target.empty() || target.front() != '/') {
    return absl::InvalidArgumentError("request target is not an absolute path");
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("control character in request target");
    }
  }
  if (line_end != std::string_view::npos) {
    for (absl::string_view line : absl::StrSplit(
             absl::string_view(head.data() + line_end + 2, head.size() - line_end - 2), "\r\n")) {
      if (line.empty()) return absl::InvalidArgumentError("empty header line");
      absl::Status status = ParseHeaderLine(std::string_view(line.data(), line.size()));
      if (!status.ok()) return status;
    }
  }
  HttpRequest request;
  request.method = std::string(method);
  size_t question = target.find('?');
  auto path = PercentDecode(target.substr(0, question), /*plus_is_space=*/false);
  if (!path.ok()) return path.status();
  request.path = *std::move(path);
  if (question != std::string_view::npos) {
    absl::Status status = ParseQuery(target.substr(question + 1), &request.query);
    if (!status.ok()) return status;
  }
  return request;
}

std::string_view HttpReasonPhrase(int status_code) {
  switch (status_code) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

}  // namespace rangedb
