// The rangedb binary. Everything lives in RunCli so it can be tested in-process.
#include <iostream>

#include "node/cli.h"

int main(int argc, char** argv) { return rangedb::RunCli(argc, argv, std::cout, std::cerr); }
