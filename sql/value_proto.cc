#include "sql/value_proto.h"

namespace rangedb::sql {

sqlpb::Value ValueToProto(const Value& v) {
  sqlpb::Value out;
  switch (ClassOf(v)) {
    case StorageClass::kNull:
      out.set_null(true);
      break;
    case StorageClass::kInteger:
      out.set_integer(std::get<int64_t>(v));
      break;
    case StorageClass::kReal:
      out.set_real(std::get<double>(v));
      break;
    case StorageClass::kText:
      out.set_text(std::get<std::string>(v));
      break;
    case StorageClass::kBlob:
      out.set_blob(std::get<Blob>(v).bytes);
      break;
  }
  return out;
}

Value ValueFromProto(const sqlpb::Value& v) {
  switch (v.kind_case()) {
    case sqlpb::Value::kInteger:
      return v.integer();
    case sqlpb::Value::kReal:
      return v.real();
    case sqlpb::Value::kText:
      return v.text();
    case sqlpb::Value::kBlob:
      return Blob{v.blob()};
    default:
      return Null{};
  }
}

}  // namespace rangedb::sql
