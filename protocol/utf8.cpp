#include "protocol/utf8.hpp"
