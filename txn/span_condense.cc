#include "txn/span_condense.h"

#include <algorithm>
#include <string>

#include "absl/strings/string_view.h"
#include "base/check.h"

namespace rangedb::txn {
namespace {

// The exclusive end of s.
std::string End(const kvpb::Span& s) { return s.end_key().empty() ? s.key() + '\0' : s.end_key(); }

size_t Bytes(const std::vector<kvpb::Span>& spans) {
  size_t bytes = 0;
  for (const kvpb::Span& s : spans) bytes += SpanBytes(s);
  return bytes;
}

size_t CommonPrefix(absl::string_view a, absl::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// [key, end) as a span; a single key keeps the single-key form.
kvpb::Span SpanOf(std::string key, std::string end) {
  kvpb::Span s;
  if (end.size() == key.size() + 1 && end.back() == '\0' && end.compare(0, key.size(), key) == 0) {
    end.clear();
  }
  s.set_key(std::move(key));
  s.set_end_key(std::move(end));
  return s;
}

// Sorts spans and merges the ones that overlap or touch.
void MergeTouching(std::vector<kvpb::Span>* spans) {
  std::sort(spans->begin(), spans->end(),
            [](const kvpb::Span& a, const kvpb::Span& b) { return a.key() < b.key(); });
  std::vector<kvpb::Span> out;
  out.reserve(spans->size());
  std::string out_end;  // End(out.back())
  for (kvpb::Span& s : *spans) {
    std::string end = End(s);
    if (!out.empty() && s.key() <= out_end) {
      if (end > out_end) out_end = std::move(end);
      out.back() = SpanOf(out.back().key(), out_end);
      continue;
    }
    out_end = std::move(end);
    out.push_back(std::move(s));
  }
  *spans = std::move(out);
}

// spans with every gap whose common prefix (gaps[i], between spans i and i + 1) is at
// least min_prefix bridged.
std::vector<kvpb::Span> Bridge(const std::vector<kvpb::Span>& spans,
                               const std::vector<size_t>& gaps, size_t min_prefix) {
  std::vector<kvpb::Span> out;
  size_t first = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i + 1 < spans.size() && gaps[i] >= min_prefix) continue;  // run goes on
    out.push_back(first == i ? spans[i] : SpanOf(spans[first].key(), End(spans[i])));
    first = i + 1;
  }
  return out;
}

}  // namespace

void CondenseSpans(std::vector<kvpb::Span>* spans, size_t* bytes, size_t max_spans,
                   size_t max_bytes) {
  RANGEDB_CHECK_GE(max_spans, 1u);
  if (spans->size() <= max_spans && *bytes <= max_bytes) return;
  MergeTouching(spans);
  *bytes = Bytes(*spans);
  const size_t target_spans = std::max<size_t>(1, max_spans / 2);
  const size_t target_bytes = max_bytes / 2;
  if (spans->size() <= 1 || (spans->size() <= target_spans && *bytes <= target_bytes)) return;
  std::vector<size_t> gaps(spans->size() - 1);
  for (size_t i = 0; i + 1 < spans->size(); ++i) {
    gaps[i] = CommonPrefix(End((*spans)[i]), (*spans)[i + 1].key());
  }
  // Thresholds, closest neighbours first; bridging at a lower one bridges more, so
  // the spans and bytes only shrink along this list: binary search for the first
  // threshold that fits.
  std::vector<size_t> thresholds = gaps;
  std::sort(thresholds.begin(), thresholds.end(), std::greater<>());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  size_t lo = 0, hi = thresholds.size() - 1;  // the last one bridges every gap
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    std::vector<kvpb::Span> bridged = Bridge(*spans, gaps, thresholds[mid]);
    if (bridged.size() <= target_spans && Bytes(bridged) <= target_bytes) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  *spans = Bridge(*spans, gaps, thresholds[lo]);
  *bytes = Bytes(*spans);
}

}  // namespace rangedb::txn
