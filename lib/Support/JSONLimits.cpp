//===- JSONLimits.cpp - Guards for the JSON the readers parse -------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/JSONLimits.h"

bool qwha::nestsDeeperThan(llvm::StringRef text, unsigned limit) {
  unsigned depth = 0;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    switch (text[i]) {
    case '{':
    case '[':
      if (++depth > limit)
        return true;
      break;
    case '}':
    case ']':
      if (depth > 0)
        --depth;
      break;
    case '"':
      for (++i; i < e && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
      break;
    default:
      break;
    }
  }
  return false;
}
