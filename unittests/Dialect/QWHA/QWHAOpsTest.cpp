//===- QWHAOpsTest.cpp - Tests of the QWHA dialect's C++ API --------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What a downstream compiler does with the dialect from C++: build ops,
// verify them, and query them through the interfaces.
//
//===----------------------------------------------------------------------===//

#include "qwha/Dialect/QWHA/QWHAOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace qwha;

namespace {

class QWHAOpsTest : public ::testing::Test {
protected:
  QWHAOpsTest() {
    context.loadDialect<QWHADialect, func::FuncDialect>();
    // Keep verifier messages for the assertions instead of printing them.
    handler = std::make_unique<ScopedDiagnosticHandler>(
        &context, [this](Diagnostic &diag) {
          messages.push_back(diag.str());
          return success();
        });
  }

  RankedTensorType tensor(ArrayRef<int64_t> shape, Type element) {
    return RankedTensorType::get(shape, element);
  }

  MLIRContext context;
  std::unique_ptr<ScopedDiagnosticHandler> handler;
  std::vector<std::string> messages;
};

TEST_F(QWHAOpsTest, BuildVerifyAndQueryQLinear) {
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  auto module = ModuleOp::create(b, loc);
  b.setInsertionPointToEnd(module.getBody());
  Type f32 = b.getF32Type(), f16 = b.getF16Type(), i4 = b.getIntegerType(4);
  auto fnType = b.getFunctionType(
      {tensor({3, 64}, f32), tensor({16, 64}, i4), tensor({16, 2}, f16),
       tensor({16, 2}, i4)},
      {tensor({3, 16}, f32)});
  auto fn = func::FuncOp::create(b, loc, "f", fnType);
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  auto q = QLinearOp::create(
      b, loc, tensor({3, 16}, f32), b.getStringAttr("model.fc"),
      entry->getArgument(0), entry->getArgument(1), entry->getArgument(2),
      entry->getArgument(3), Value(), b.getI64IntegerAttr(32));
  func::ReturnOp::create(b, loc, q.getResult());
  ASSERT_TRUE(succeeded(verify(module))) << messages.front();

  auto layer = cast<LayerOpInterface>(q.getOperation());
  EXPECT_EQ(layer.getLayerName(), "model.fc");
  EXPECT_EQ(layer.getInFeatures(), 64);
  EXPECT_EQ(layer.getOutFeatures(), 16);
  auto weight = cast<QuantizedWeightOpInterface>(q.getOperation());
  EXPECT_EQ(weight.getBits(), 4u);
  EXPECT_EQ(weight.getNumGroups(), 2);
  EXPECT_EQ(weight.getEffectiveGroupSize(), 32);

  // Breaking the group size must be caught, with the rule in the message.
  q.setGroupSize(24);
  EXPECT_TRUE(failed(verify(module)));
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages.back().find("group_size must be -1"), std::string::npos)
      << messages.back();
  module->erase();
}

TEST_F(QWHAOpsTest, PerChannelGridReportsOneGroup) {
  const char *source = R"mlir(
    func.func @f(%c: tensor<8x48xi8>, %s: tensor<8x1xf32>, %z: tensor<8x1xf32>)
        -> tensor<8x48xf32> {
      %w = qwha.dequantize %c, %s, %z group_size -1
          : tensor<8x48xi8>, tensor<8x1xf32>, tensor<8x1xf32> -> tensor<8x48xf32>
      return %w : tensor<8x48xf32>
    }
  )mlir";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(source, &context);
  ASSERT_TRUE(module) << (messages.empty() ? "" : messages.front());
  DequantizeOp op;
  module->walk([&](DequantizeOp d) { op = d; });
  ASSERT_TRUE(op);
  EXPECT_EQ(op.getBits(), 8u);
  EXPECT_EQ(op.getGroupSize(), -1);
  EXPECT_EQ(op.getEffectiveGroupSize(), 48);
  EXPECT_EQ(op.getNumGroups(), 1);
}

TEST_F(QWHAOpsTest, LayerNameAttributeOnForeignOpsIsChecked) {
  const char *source = R"mlir(
    func.func @f() attributes {qwha.name = 3 : i32} { return }
  )mlir";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(source, &context);
  EXPECT_FALSE(module);
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages.back().find("must be a non-empty string attribute"),
            std::string::npos)
      << messages.back();
}

} // namespace
