#include "protocol/base64.hpp"
