#include "actors/atomic_file.hpp"

#include <doctest/doctest.h>
