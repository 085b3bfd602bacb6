// RUN: qwha-opt %s -qwha-instrument-calibration="layers=fc(" -verify-diagnostics

// expected-error @below {{invalid 'layers' regular expression 'fc(': parentheses not balanced}}
module {
  func.func @f() { return }
}
