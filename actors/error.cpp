#include "actors/error.hpp"
