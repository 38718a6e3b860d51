#include "cache/load_batcher.hpp"

#include <gtest/gtest.h>

namespace readthru::cache {
namespace {

RowSet rows(ColumnKind key_kind, std::vector<std::vector<std::optional<std::string>>> data) {
  RowSet rs;
  rs.columns = {{"id", key_kind}, {"name", ColumnKind::kText}};
  rs.rows = std::move(data);
  return rs;
}

TEST(LoadBatcher, TextArrayLiteralQuotesEveryElement) {
  EXPECT_EQ(textArrayLiteral({}), "{}");
  EXPECT_EQ(textArrayLiteral({"1", "2"}), R"({"1","2"})");
  EXPECT_EQ(textArrayLiteral({"a\"b", "c\\d", "{x,y}", "NULL", ""}),
            R"({"a\"b","c\\d","{x,y}","NULL",""})");
}

TEST(LoadBatcher, SplitHandsEachIdItsRows) {
  const RowSet rs =
      rows(ColumnKind::kText, {{"b", "Bee"}, {"a", "Ay"}, {"a", "Ay2"}, {std::nullopt, "x"}});
  auto split = splitBatch(rs, "id", false, {"a", "b", "c"});
  ASSERT_TRUE(split);
  ASSERT_EQ(split->size(), 3u);
  EXPECT_EQ((*split)[0].rows.size(), 2u);
  EXPECT_EQ(*(*split)[0].rows[1][1], "Ay2");
  EXPECT_EQ(*(*split)[1].rows[0][1], "Bee");
  EXPECT_TRUE((*split)[2].rows.empty());
  EXPECT_EQ((*split)[2].columns.size(), 2u);  // "no row" still knows its columns
}

TEST(LoadBatcher, IntegerIdsMatchByValue) {
  const RowSet rs = rows(ColumnKind::kInteger, {{"42", "x"}, {"-7", "y"}, {"0", "z"}});
  auto split = splitBatch(rs, "id", false, {"042", "+42", "-007", "-0", "4x2", "43"});
  ASSERT_TRUE(split);
  EXPECT_EQ(*(*split)[0].rows.at(0)[1], "x");
  EXPECT_EQ(*(*split)[1].rows.at(0)[1], "x");
  EXPECT_EQ(*(*split)[2].rows.at(0)[1], "y");
  EXPECT_EQ(*(*split)[3].rows.at(0)[1], "z");
  EXPECT_TRUE((*split)[4].rows.empty());
  EXPECT_TRUE((*split)[5].rows.empty());
  // Text ids compare as text: "042" is not "42".
  auto text = splitBatch(rows(ColumnKind::kText, {{"42", "x"}}), "id", false, {"042"});
  EXPECT_TRUE((*text)[0].rows.empty());
}

TEST(LoadBatcher, ValueFormatDropsTheKeyColumn) {
  auto split = splitBatch(rows(ColumnKind::kInteger, {{"1", "one"}}), "id", true, {"1"});
  ASSERT_TRUE(split);
  ASSERT_EQ((*split)[0].columns.size(), 1u);
  EXPECT_EQ((*split)[0].columns[0].name, "name");
  EXPECT_EQ((*split)[0].rows, (std::vector<std::vector<std::optional<std::string>>>{{"one"}}));
}

TEST(LoadBatcher, MissingKeyColumnIsAnError) {
  auto split = splitBatch(rows(ColumnKind::kText, {}), "user_id", false, {"1"});
  ASSERT_FALSE(split);
  EXPECT_EQ(split.error().message, "batch_key 'user_id' is not in the batch result");
}

}  // namespace
}  // namespace readthru::cache
