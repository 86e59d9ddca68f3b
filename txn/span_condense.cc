#include "txn/span_condense.h"

#include <algorithm>
#include <string>

#include "absl/strings/string_view.h"

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

// The bytes of the run spans[first..last] as one span.
size_t RunBytes(const std::vector<kvpb::Span>& spans, size_t first, size_t last) {
  if (first == last) return SpanBytes(spans[first]);
  return spans[first].key().size() + End(spans[last]).size();
}

}  // namespace

void CondenseSpans(std::vector<kvpb::Span>* spans, size_t* bytes, size_t max_spans,
                   size_t max_bytes) {
  max_spans = std::max<size_t>(1, max_spans);  // 0: as few as can be
  if (spans->size() <= max_spans && *bytes <= max_bytes) return;
  MergeTouching(spans);
  *bytes = Bytes(*spans);
  const size_t target_spans = std::max<size_t>(1, max_spans / 2);
  const size_t target_bytes = max_bytes / 2;
  if (spans->size() <= 1 || (spans->size() <= target_spans && *bytes <= target_bytes)) return;
  // Bridge gaps closest first (the longest shared prefix), keeping the exact count
  // and bytes, until both fit. Bridging two single keys costs a byte ([a, b\0)), so
  // the bytes do not only shrink: stop at the first point where both fit.
  const size_t n = spans->size();
  std::vector<std::pair<size_t, size_t>> gaps;  // (shared prefix, gap i: spans i, i+1)
  gaps.reserve(n - 1);
  for (size_t i = 0; i + 1 < n; ++i) {
    gaps.emplace_back(CommonPrefix(End((*spans)[i]), (*spans)[i + 1].key()), i);
  }
  std::sort(gaps.begin(), gaps.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  // Runs of bridged spans, known at their ends: last_of[first], first_of[last].
  std::vector<size_t> last_of(n), first_of(n);
  for (size_t i = 0; i < n; ++i) last_of[i] = first_of[i] = i;
  size_t count = n;
  for (const auto& [prefix, i] : gaps) {
    if (count <= target_spans && *bytes <= target_bytes) break;
    const size_t a = first_of[i], b = last_of[i + 1];
    *bytes = *bytes + RunBytes(*spans, a, b) - RunBytes(*spans, a, i) - RunBytes(*spans, i + 1, b);
    last_of[a] = b;
    first_of[b] = a;
    --count;
  }
  std::vector<kvpb::Span> out;
  out.reserve(count);
  for (size_t i = 0; i < n; i = last_of[i] + 1) {
    const size_t last = last_of[i];
    out.push_back(i == last ? std::move((*spans)[i])
                            : SpanOf((*spans)[i].key(), End((*spans)[last])));
  }
  *spans = std::move(out);
  *bytes = Bytes(*spans);
}

}  // namespace rangedb::txn
