// tests/train/grad_spans_test.cc: ContiguousSpans merges adjacent views of
// one buffer (in any order), keeps everything else apart, and its spans
// write through to the tensors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "train/grad_spans.h"

namespace alro::train {
namespace {

// Views of `flat` with the given sizes, laid out one after another.
std::vector<at::Tensor> Views(const at::Tensor& flat, const std::vector<std::vector<int64_t>>& shapes) {
  std::vector<at::Tensor> out;
  int64_t offset = 0;
  for (const auto& shape : shapes) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    out.push_back(flat.narrow(0, offset, n).view(shape));
    offset += n;
  }
  return out;
}

int64_t TotalNumel(const std::vector<at::Tensor>& ts) {
  int64_t n = 0;
  for (const at::Tensor& t : ts) n += t.numel();
  return n;
}

TEST(ContiguousSpans, AdjacentViewsOfOneBufferMergeInAnyOrder) {
  const at::Tensor flat = at::arange(60, at::kFloat);
  std::vector<at::Tensor> views = Views(flat, {{3, 4}, {5}, {2, 2, 2}, {35}});
  // The synchronizer lays parameters out in reverse order: give them reversed.
  std::vector<at::Tensor> reversed(views.rbegin(), views.rend());
  const std::vector<at::Tensor> spans = ContiguousSpans(reversed);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].dim(), 1);
  EXPECT_EQ(spans[0].numel(), 60);
  EXPECT_EQ(spans[0].data_ptr(), flat.data_ptr());
  EXPECT_TRUE(at::equal(spans[0], flat));
}

TEST(ContiguousSpans, GapsBuffersLayoutsAndUndefinedStayApart) {
  const at::Tensor a = at::arange(20, at::kFloat), b = at::arange(10, at::kFloat);
  const at::Tensor transposed = at::arange(6, at::kFloat).view({2, 3}).t();  // not contiguous
  const at::Tensor dbl = at::arange(4, at::kDouble);
  std::vector<at::Tensor> ts = {a.narrow(0, 0, 5),   a.narrow(0, 5, 5),  // adjacent: one span
                                a.narrow(0, 12, 8),                       // gap of 2: its own
                                b.narrow(0, 0, 10),                       // another buffer
                                transposed, dbl, at::Tensor()};
  const std::vector<at::Tensor> spans = ContiguousSpans(ts);
  EXPECT_EQ(spans.size(), 5u);
  EXPECT_EQ(TotalNumel(spans), 5 + 5 + 8 + 10 + 6 + 4);
  bool found_merged = false, found_transposed = false;
  for (const at::Tensor& s : spans) {
    if (s.data_ptr() == a.data_ptr() && s.numel() == 10) found_merged = true;
    if (s.data_ptr() == transposed.data_ptr()) {
      found_transposed = true;
      EXPECT_EQ(s.sizes(), transposed.sizes()) << "a non-contiguous tensor is its own span, unchanged";
    }
  }
  EXPECT_TRUE(found_merged);
  EXPECT_TRUE(found_transposed);
}

TEST(ContiguousSpans, OverlapsAreNotMergedSoElementsCountAsOftenAsGiven) {
  const at::Tensor flat = at::arange(10, at::kFloat);
  const std::vector<at::Tensor> ts = {flat.narrow(0, 0, 6), flat.narrow(0, 4, 6)};
  const std::vector<at::Tensor> spans = ContiguousSpans(ts);
  EXPECT_EQ(spans.size(), 2u);
  EXPECT_EQ(TotalNumel(spans), 12);
}

TEST(ContiguousSpans, WritingASpanWritesTheTensors) {
  at::Tensor flat = at::zeros({12}, at::kFloat);
  std::vector<at::Tensor> views = Views(flat, {{2, 3}, {6}});
  for (at::Tensor& s : ContiguousSpans(views)) s.fill_(2.5);
  EXPECT_TRUE(at::equal(views[0], at::full({2, 3}, 2.5)));
  EXPECT_TRUE(at::equal(views[1], at::full({6}, 2.5)));
}

}  // namespace
}  // namespace alro::train
