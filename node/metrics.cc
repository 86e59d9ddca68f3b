#include "node/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace rangedb {
namespace {

// Registration errors are programming errors (names are constants): a failed check
// stops the process, its message starting with this.
std::string CannotRegister(std::string_view name) {
  return "metrics: cannot register \"" + std::string(name) + "\": ";
}

bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void CheckBounds(std::string_view name, const std::vector<double>& bounds) {
  RANGEDB_CHECK(!bounds.empty()) << CannotRegister(name)
                                 << "histogram needs at least one bucket bound";
  for (size_t i = 0; i < bounds.size(); ++i) {
    RANGEDB_CHECK(std::isfinite(bounds[i]))
        << CannotRegister(name) << "histogram bound " << bounds[i] << " is not finite";
    if (i > 0) {
      RANGEDB_CHECK_LT(bounds[i - 1], bounds[i])
          << CannotRegister(name) << "histogram bounds are not strictly increasing";
    }
  }
}

// HELP text escapes only backslash and newline (format 0.0.4).
std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Renders {a="x",b="y"} with an optional trailing le label; empty labels render as "".
std::string FormatLabels(const MetricLabels& labels, const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return "";
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ',';
    absl::StrAppend(&out, name, "=\"", EscapeMetricLabelValue(value), "\"");
  }
  if (le != nullptr) {
    if (out.size() > 1) out += ',';
    absl::StrAppend(&out, "le=\"", *le, "\"");
  }
  out += '}';
  return out;
}

// Double fetch_add as a CAS loop: lock-free without relying on C++20 atomic<double> ops.
void AtomicAdd(std::atomic<double>* target, double delta) {
  double old_value = target->load(std::memory_order_relaxed);
  while (!target->compare_exchange_weak(old_value, old_value + delta, std::memory_order_relaxed)) {
  }
}

}  // namespace

const std::vector<double> kDefaultLatencyBoundsSeconds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

void Gauge::Add(double delta) { AtomicAdd(&value_, delta); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  CheckBounds("histogram", upper_bounds_);
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) bucket_counts_[i].store(0);
}

void Histogram::Observe(double value) {
  // lower_bound finds the first bound >= value: "le" is inclusive. NaN compares false
  // with everything, so route it to +Inf explicitly.
  size_t index = upper_bounds_.size();
  if (!std::isnan(value)) {
    index =
        std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  }
  bucket_counts_[index].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_, value);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> counts(upper_bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    total += bucket_counts_[i].load(std::memory_order_relaxed);
    counts[i] = total;
  }
  return counts;
}

std::string EscapeMetricLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

MetricsRegistry::Series* MetricsRegistry::FindOrAddLocked(std::string_view name,
                                                          std::string_view help, Type type,
                                                          MetricLabels labels, bool* created) {
  RANGEDB_CHECK(IsValidName(name, /*allow_colon=*/true))
      << CannotRegister(name) << "invalid metric name";
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    RANGEDB_CHECK(IsValidName(label, /*allow_colon=*/false) && !label.starts_with("__"))
        << CannotRegister(name) << "invalid label name \"" << label << "\"";
    RANGEDB_CHECK(type != Type::kHistogram || label != "le")
        << CannotRegister(name) << "label \"le\" is reserved for histogram buckets";
    for (size_t j = 0; j < i; ++j) {
      RANGEDB_CHECK(labels[j].first != label)
          << CannotRegister(name) << "duplicate label name \"" << label << "\"";
    }
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  }
  RANGEDB_CHECK(it->second.type == type)
      << CannotRegister(name) << "name already registered with another type";
  Family& family = it->second;
  for (const auto& series : family.series) {
    if (series->labels == labels) {
      *created = false;
      return series.get();
    }
  }
  RANGEDB_CHECK_LT(series_count_, kMaxSeries)
      << CannotRegister(name) << "registry holds kMaxSeries series";
  ++series_count_;
  family.series.push_back(std::make_unique<Series>());
  family.series.back()->labels = std::move(labels);
  *created = true;
  return family.series.back().get();
}

Counter* MetricsRegistry::AddCounter(std::string_view name, std::string_view help,
                                     MetricLabels labels) {
  absl::MutexLock lock(&mu_);
  bool created = false;
  Series* series = FindOrAddLocked(name, help, Type::kCounter, std::move(labels), &created);
  if (created) series->counter = std::make_unique<Counter>();
  return series->counter.get();
}

Gauge* MetricsRegistry::AddGauge(std::string_view name, std::string_view help,
                                 MetricLabels labels) {
  absl::MutexLock lock(&mu_);
  bool created = false;
  Series* series = FindOrAddLocked(name, help, Type::kGauge, std::move(labels), &created);
  if (created) series->gauge = std::make_unique<Gauge>();
  RANGEDB_CHECK(series->gauge != nullptr) << CannotRegister(name) << "series is a callback gauge";
  return series->gauge.get();
}

void MetricsRegistry::AddCallbackGauge(std::string_view name, std::string_view help,
                                       MetricLabels labels, std::function<double()> fn) {
  absl::MutexLock lock(&mu_);
  bool created = false;
  Series* series = FindOrAddLocked(name, help, Type::kGauge, std::move(labels), &created);
  RANGEDB_CHECK(created) << CannotRegister(name) << "callback gauge series registered twice";
  series->gauge_fn = std::move(fn);
}

Histogram* MetricsRegistry::AddHistogram(std::string_view name, std::string_view help,
                                         std::vector<double> upper_bounds, MetricLabels labels) {
  CheckBounds(name, upper_bounds);
  absl::MutexLock lock(&mu_);
  bool created = false;
  Series* series = FindOrAddLocked(name, help, Type::kHistogram, std::move(labels), &created);
  if (created) {
    series->histogram = std::make_unique<Histogram>(std::move(upper_bounds));
  } else {
    RANGEDB_CHECK(series->histogram->upper_bounds() == upper_bounds)
        << CannotRegister(name) << "histogram re-registered with other bounds";
  }
  return series->histogram.get();
}

std::string MetricsRegistry::Exposition() const {
  // Snapshot under the lock; render (and run callbacks) without it. Series are never
  // removed and their fields never change after registration, so the pointers and the
  // fields they reach stay valid.
  struct FamilyView {
    std::string name;
    std::string help;
    Type type;
    std::vector<const Series*> series;
  };
  std::vector<FamilyView> views;
  {
    absl::MutexLock lock(&mu_);
    views.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      FamilyView view{name, family.help, family.type, {}};
      for (const auto& series : family.series) view.series.push_back(series.get());
      views.push_back(std::move(view));
    }
  }
  std::string out;
  for (const FamilyView& view : views) {
    static constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};
    absl::StrAppend(&out, "# HELP ", view.name, " ", EscapeHelp(view.help), "\n");
    absl::StrAppend(&out, "# TYPE ", view.name, " ", kTypeNames[static_cast<int>(view.type)], "\n");
    for (const Series* series : view.series) {
      std::string labels = FormatLabels(series->labels);
      if (series->counter != nullptr) {
        absl::StrAppend(&out, view.name, labels, " ", series->counter->Value(), "\n");
      } else if (series->gauge != nullptr) {
        absl::StrAppend(&out, view.name, labels, " ", FormatMetricValue(series->gauge->Value()),
                        "\n");
      } else if (series->gauge_fn) {
        absl::StrAppend(&out, view.name, labels, " ", FormatMetricValue(series->gauge_fn()), "\n");
      } else {
        const Histogram& histogram = *series->histogram;
        std::vector<uint64_t> counts = histogram.CumulativeCounts();
        for (size_t i = 0; i < counts.size(); ++i) {
          std::string le = i < histogram.upper_bounds().size()
                               ? FormatMetricValue(histogram.upper_bounds()[i])
                               : "+Inf";
          absl::StrAppend(&out, view.name, "_bucket", FormatLabels(series->labels, &le), " ",
                          counts[i], "\n");
        }
        absl::StrAppend(&out, view.name, "_sum", labels, " ", FormatMetricValue(histogram.Sum()),
                        "\n");
        absl::StrAppend(&out, view.name, "_count", labels, " ", counts.back(), "\n");
      }
    }
  }
  return out;
}

}  // namespace rangedb
