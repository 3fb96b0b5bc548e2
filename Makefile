# The two commands of the quick start, and a few more. Each target installs what is missing
# (scripts/install-deps), configures and builds as needed.
MAKEFLAGS += --no-print-directory
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
SLUICE := $(BUILD_DIR)/host/sluice

.PHONY: all deps configure build test demo bench format clean

all: build

deps:
	@./scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release > /dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j1

demo: build
	@./scripts/demo $(BUILD_DIR)

bench: build
	@./scripts/install-deps
	@./bench/run $(BUILD_DIR)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR)
