//===- QWHADialect.cpp - QWHA dialect -------------------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Dialect/QWHA/QWHADialect.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace qwha;

#include "qwha/Dialect/QWHA/QWHAOpsDialect.cpp.inc"

void QWHADialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "qwha/Dialect/QWHA/QWHAOps.cpp.inc"
      >();
}

LogicalResult QWHADialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  if (attr.getName() == getLayerNameAttrName()) {
    auto name = dyn_cast<StringAttr>(attr.getValue());
    if (!name || name.getValue().empty())
      return op->emitError() << "'" << getLayerNameAttrName()
                             << "' must be a non-empty string attribute";
    return success();
  }
  if (attr.getName() == getFloatWeightAttrName()) {
    auto weight = dyn_cast<DenseElementsAttr>(attr.getValue());
    auto resource = dyn_cast<DenseResourceElementsAttr>(attr.getValue());
    ShapedType type = weight ? weight.getType()
                             : (resource ? resource.getType() : ShapedType());
    auto layer = dyn_cast<QLinearOp>(op);
    if (!layer)
      return op->emitError() << "'" << getFloatWeightAttrName()
                             << "' belongs on qwha.qlinear";
    if (!type || !isa<FloatType>(type.getElementType()) ||
        type.getShape() != layer.getCodes().getType().getShape())
      return op->emitError()
             << "'" << getFloatWeightAttrName()
             << "' must be a dense float tensor of the codes' shape";
    return success();
  }
  if (attr.getName() == "qwha.calibration_layers") {
    auto names = dyn_cast<ArrayAttr>(attr.getValue());
    if (!names || !llvm::all_of(names, [](Attribute name) {
          auto str = dyn_cast<StringAttr>(name);
          return str && !str.getValue().empty();
        }))
      return op->emitError()
             << "'qwha.calibration_layers' must be an array of non-empty "
                "layer names";
    return success();
  }
  return op->emitError() << "unknown qwha dialect attribute '"
                         << attr.getName().getValue() << "'";
}
