// backend/postgres row conversion: type OIDs to column kinds, and the server's text forms
// (DateStyle=ISO, TimeZone=UTC, bytea_output=hex) to the forms cache::ColumnKind promises.

#include "backend/postgres/row_conversion.hpp"

#include <gtest/gtest.h>

namespace readthru::backend::postgres {
namespace {

using cache::ColumnKind;

TEST(PostgresRowConversion, KindsFromTypeOids) {
  for (std::uint32_t oid : {21u, 23u, 20u, 26u})
    EXPECT_EQ(columnKind(oid), ColumnKind::kInteger) << oid;
  for (std::uint32_t oid : {1700u, 700u, 701u})
    EXPECT_EQ(columnKind(oid), ColumnKind::kNumber) << oid;
  EXPECT_EQ(columnKind(16), ColumnKind::kBool);
  EXPECT_EQ(columnKind(114), ColumnKind::kJson);
  EXPECT_EQ(columnKind(3802), ColumnKind::kJson);
  for (std::uint32_t oid : {1114u, 1184u, 1082u, 1083u, 1266u}) {
    EXPECT_EQ(columnKind(oid), ColumnKind::kTimestamp) << oid;
  }
  EXPECT_EQ(columnKind(17), ColumnKind::kBytes);
  // text, varchar, uuid, int4[] and an arbitrary user type
  for (std::uint32_t oid : {25u, 1043u, 2950u, 1007u, 16385u}) {
    EXPECT_EQ(columnKind(oid), ColumnKind::kText) << oid;
  }
}

TEST(PostgresRowConversion, Bools) {
  EXPECT_EQ(normaliseValue(ColumnKind::kBool, "t"), "true");
  EXPECT_EQ(normaliseValue(ColumnKind::kBool, "f"), "false");
}

TEST(PostgresRowConversion, Timestamps) {
  EXPECT_EQ(isoTimestamp("2024-05-01 12:00:00+00"), "2024-05-01T12:00:00+00:00");
  EXPECT_EQ(isoTimestamp("2024-05-01 12:00:00.5+05:30"), "2024-05-01T12:00:00.5+05:30");
  EXPECT_EQ(isoTimestamp("2024-05-01 12:00:00.123456-05"), "2024-05-01T12:00:00.123456-05:00");
  EXPECT_EQ(isoTimestamp("1900-01-01 00:00:00+00:09:21"), "1900-01-01T00:00:00+00:09:21");
  EXPECT_EQ(isoTimestamp("2024-05-01 12:00:00"), "2024-05-01T12:00:00");  // timestamp
  EXPECT_EQ(isoTimestamp("2024-05-01"), "2024-05-01");                    // date
  EXPECT_EQ(isoTimestamp("12:00:00"), "12:00:00");                        // time
  EXPECT_EQ(isoTimestamp("12:00:00-02"), "12:00:00-02:00");               // timetz
  EXPECT_EQ(isoTimestamp("infinity"), "infinity");
  EXPECT_EQ(isoTimestamp("-infinity"), "-infinity");
  EXPECT_EQ(isoTimestamp("0044-03-15 12:00:00+00 BC"), "0044-03-15T12:00:00+00:00 BC");
  EXPECT_EQ(isoTimestamp("12345-01-01 00:00:00+00"), "12345-01-01T00:00:00+00:00");
  EXPECT_EQ(normaliseValue(ColumnKind::kTimestamp, "2024-05-01 12:00:00+00"),
            "2024-05-01T12:00:00+00:00");
}

TEST(PostgresRowConversion, ByteaHexBecomesRawBytes) {
  EXPECT_EQ(decodeBytea("\\x"), "");
  EXPECT_EQ(decodeBytea("\\x0a0b"), "\x0a\x0b");
  EXPECT_EQ(decodeBytea("\\x00FF41"), std::string("\x00\xff"
                                                  "A",
                                                  3));
  EXPECT_EQ(normaliseValue(ColumnKind::kBytes, "\\x00"), std::string(1, '\0'));
  // Not the hex form: left alone rather than guessed at.
  EXPECT_EQ(decodeBytea("\\x0"), "\\x0");
  EXPECT_EQ(decodeBytea("\\xzz"), "\\xzz");
  EXPECT_EQ(decodeBytea("abc\\000"), "abc\\000");
}

TEST(PostgresRowConversion, OtherKindsPassThrough) {
  EXPECT_EQ(normaliseValue(ColumnKind::kNumber, "NaN"), "NaN");
  EXPECT_EQ(normaliseValue(ColumnKind::kInteger, "-42"), "-42");
  EXPECT_EQ(normaliseValue(ColumnKind::kJson, "{\"a\": 1}"), "{\"a\": 1}");
  EXPECT_EQ(normaliseValue(ColumnKind::kText, "t"), "t");
  EXPECT_EQ(normaliseValue(ColumnKind::kText, std::string("a\nb\0c", 5)),
            std::string("a\nb\0c", 5));
}

}  // namespace
}  // namespace readthru::backend::postgres
