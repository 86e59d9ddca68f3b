// PrettyKey (sql/pretty_key.h): every region of the key map, and table keys decoded to
// /<table>/<index>/<values> by the table's descriptor (docs/design/sql.md "Keys").
#include "sql/pretty_key.h"

#include "gtest/gtest.h"
#include "sql/key_codec.h"
#include "storage/keys.h"

namespace rangedb::sql {
namespace {

// users(id INTEGER PRIMARY KEY, email TEXT) with index 2 "by_email" (email), as table 52.
TablesById Users() {
  sqlpb::TableDescriptor d;
  d.set_id(52);
  d.set_name("users");
  auto* id = d.add_columns();
  id->set_id(1);
  id->set_name("id");
  id->set_affinity(static_cast<uint32_t>(Affinity::kInteger));
  auto* email = d.add_columns();
  email->set_id(2);
  email->set_name("email");
  email->set_affinity(static_cast<uint32_t>(Affinity::kText));
  d.mutable_primary_index()->set_id(1);
  d.mutable_primary_index()->set_name("primary");
  d.mutable_primary_index()->add_column_ids(1);
  auto* by_email = d.add_indexes();
  by_email->set_id(2);
  by_email->set_name("by_email");
  by_email->add_column_ids(2);
  absl::StatusOr<std::shared_ptr<const TableInfo>> t = TableInfo::Make(d);
  EXPECT_TRUE(t.ok()) << t.status();
  return {{52, *t}};
}

std::string Key(std::string prefix, std::initializer_list<Value> values,
                Direction dir = Direction::kAscending) {
  for (const Value& v : values) AppendValueKey(&prefix, v, Collation::kBinary, dir);
  return prefix;
}

TEST(PrettyKeyTest, RegionsOfTheKeyMap) {
  const TablesById none;
  EXPECT_EQ(PrettyKey("", none), "/Min");
  EXPECT_EQ(PrettyKey(keys::kKeyMax, none), "/Max");
  EXPECT_EQ(PrettyKey(keys::MetaKey(keys::kKeyMax), none), "/Meta/Max");
  EXPECT_EQ(PrettyKey(keys::kMetaPrefix, none), "/Meta/Min");
  EXPECT_EQ(PrettyKey(keys::kSystemCatalogPrefix, none), "/System/catalog/");
  EXPECT_EQ(PrettyKey(keys::kTableDataPrefix, none), "/Table");
  EXPECT_EQ(PrettyKey(keys::StoreIdKey(), none), "/Local/sstore-id");
  // Outside every region: the raw bytes, quoted and escaped.
  EXPECT_EQ(PrettyKey("m", none), "\"m\"");
  EXPECT_EQ(PrettyKey(std::string("\x05\x00q\"", 4), none), "\"\\x05\\x00q\\\"\"");
}

TEST(PrettyKeyTest, RowKeysNameTableIndexAndValues) {
  const TablesById users = Users();
  EXPECT_EQ(PrettyKey(keys::TablePrefix(52), users), "/users");
  EXPECT_EQ(PrettyKey(keys::IndexPrefix(52, 1), users), "/users/primary");
  EXPECT_EQ(PrettyKey(Key(keys::IndexPrefix(52, 1), {int64_t{42}}), users), "/users/primary/42");
  EXPECT_EQ(PrettyKey(Key(keys::IndexPrefix(52, 2), {std::string("a@b.c"), int64_t{-7}}), users),
            "/users/by_email/'a@b.c'/-7");
}

TEST(PrettyKeyTest, EveryStorageClassAndDirection) {
  const TablesById users = Users();
  const std::string p = keys::IndexPrefix(52, 1);
  EXPECT_EQ(PrettyKey(Key(p, {Null(), 1.5, std::string("it's\n"), Blob{"\x0a\xff"}}), users),
            "/users/primary/NULL/1.5/'it\\'s\\n'/x'0aff'");
  EXPECT_EQ(PrettyKey(Key(p, {0.1}), users), "/users/primary/0.1");
  // A descending value says so in its tag: decoded all the same.
  EXPECT_EQ(PrettyKey(Key(p, {int64_t{9}, std::string("z")}, Direction::kDescending), users),
            "/users/primary/9/'z'");
}

TEST(PrettyKeyTest, UnknownTablesAndIndexesShowTheirIds) {
  const TablesById users = Users();
  EXPECT_EQ(PrettyKey(Key(keys::IndexPrefix(57, 3), {int64_t{1}}), users), "/57/3/1");
  EXPECT_EQ(PrettyKey(Key(keys::IndexPrefix(52, 9), {int64_t{1}}), users), "/users/9/1");
}

TEST(PrettyKeyTest, UndecodableBytesEndTheKeyEscaped) {
  const TablesById users = Users();
  // 0x05 is a reserved tag: no value starts with it.
  EXPECT_EQ(PrettyKey(Key(keys::IndexPrefix(52, 1), {int64_t{42}}) + "\x05zz", users),
            "/users/primary/42/\\x05zz");
  // A table id that is not a uvarint.
  EXPECT_EQ(PrettyKey(std::string("\x04\x05", 2), users), "/Table/\\x05");
  // A text value cut short: no terminator.
  std::string cut = Key(keys::IndexPrefix(52, 2), {std::string("abc")});
  cut.resize(cut.size() - 2);
  EXPECT_EQ(PrettyKey(cut, users), "/users/by_email/Yabc");
}

}  // namespace
}  // namespace rangedb::sql
